package admin

import (
	"context"
	"fmt"
	"time"

	"mailsrv/auth"
)

// UserInfo is how a user is shown by `user list`.
type UserInfo struct {
	Address  string    `json:"address"`
	Name     string    `json:"name,omitempty"`
	Created  time.Time `json:"created"`
	Messages uint32    `json:"messages"`
	Bytes    int64     `json:"bytes"`
}

type userArgs struct {
	Address  string `json:"address"`
	Name     string `json:"name,omitempty"`
	Password string `json:"password,omitempty"`
}

// minPasswordLen is the shortest password accepted from an admin.
const minPasswordLen = 8

func checkPassword(pw string) error {
	if len(pw) < minPasswordLen {
		return fmt.Errorf("password too short: use at least %d characters", minPasswordLen)
	}
	return nil
}

func (h *Handler) userOps() map[string]OpFunc {
	return map[string]OpFunc{
		"user.add": op(func(ctx context.Context, a userArgs) (any, error) {
			if err := checkPassword(a.Password); err != nil {
				return nil, err
			}
			hash, err := auth.HashPassword(a.Password)
			if err != nil {
				return nil, err
			}
			acct, err := h.Store.AddUser(ctx, a.Address, a.Name, hash)
			if err != nil {
				return nil, err
			}
			return Done{Message: "user " + acct.Address + " added"}, nil
		}),
		"user.list": op(func(ctx context.Context, _ struct{}) (any, error) {
			us, err := h.Store.Users(ctx)
			if err != nil {
				return nil, err
			}
			out := []UserInfo{}
			for _, u := range us {
				info := UserInfo{Address: u.Address, Name: u.Name, Created: u.Created}
				info.Messages, info.Bytes = h.mailboxUsage(ctx, u.MailboxID)
				out = append(out, info)
			}
			return out, nil
		}),
		"user.remove": op(func(ctx context.Context, a userArgs) (any, error) {
			item, err := h.Store.RemoveUser(ctx, a.Address)
			if err != nil {
				return nil, err
			}
			return Done{Message: fmt.Sprintf("user %s removed; their mail is in the recycle bin as item %d (restore with `mailsrv trash restore %d`)",
				item.Address, item.ID, item.ID)}, nil
		}),
		"user.passwd": op(func(ctx context.Context, a userArgs) (any, error) {
			if err := checkPassword(a.Password); err != nil {
				return nil, err
			}
			hash, err := auth.HashPassword(a.Password)
			if err != nil {
				return nil, err
			}
			if err := h.Store.SetPassword(ctx, a.Address, hash); err != nil {
				return nil, err
			}
			return Done{Message: "password of " + a.Address + " changed"}, nil
		}),
	}
}

// mailboxUsage sums messages and bytes over a mailbox's folders.
func (h *Handler) mailboxUsage(ctx context.Context, mbid uint64) (uint32, int64) {
	fs, err := h.Store.Folders(ctx, mbid)
	if err != nil {
		return 0, 0
	}
	var n uint32
	var b int64
	for _, f := range fs {
		n += f.Messages
		b += f.Size
	}
	return n, b
}
