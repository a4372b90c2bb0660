package store

import (
	"context"
	"testing"
)

// IMAP CREATE does not subscribe; what the server makes is subscribed
// (client_folder.go).
func TestClientFoldersAreNotSubscribed(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	for _, u := range []string{"alice@example.com", "bob@example.com", "carol@example.com"} {
		if _, err := s.AddUser(ctx, u, "", "x"); err != nil {
			t.Fatal(err)
		}
	}
	alice, _ := s.User(ctx, "alice@example.com")
	for _, f := range DefaultFolders {
		if got, err := s.GetFolder(ctx, alice.MailboxID, f.Name); err != nil || !got.Subscribed {
			t.Fatalf("default folder %s: %+v %v", f.Name, got, err)
		}
	}
	f, err := s.CreateClientFolder(ctx, alice.MailboxID, "Projects", "")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetFolder(ctx, alice.MailboxID, "Projects"); f.Subscribed || got.Subscribed {
		t.Fatalf("CREATE subscribed: %+v", got)
	}
	// A name subscribed while it had no folder keeps its subscription.
	if err := s.SetSubscribed(ctx, alice.MailboxID, "Later", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateClientFolder(ctx, alice.MailboxID, "Later", ""); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetFolder(ctx, alice.MailboxID, "Later"); !got.Subscribed {
		t.Fatal("a subscribed name lost its subscription when its folder was created")
	}
	if names, _ := s.SubscribedNames(ctx, alice.MailboxID); len(names) != 0 {
		t.Fatalf("folderless subscriptions left: %v", names)
	}

	// A delegate's CREATE in a shared mailbox: off for the creator only.
	info, err := s.CreateShared(ctx, "info@example.com", "Info", "alice@example.com", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	team, err := s.CreateClientFolder(ctx, info.ID, "Team", "Bob@Example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !team.Subscribed {
		t.Fatal("a member's new shared folder is not subscribed for the others")
	}
	if subs, _ := s.UserSubscriptions(ctx, "bob@example.com"); len(subs) != 1 || subs[team.ID] {
		t.Fatalf("creator's subscriptions: %v", subs)
	}
	if subs, _ := s.UserSubscriptions(ctx, "carol@example.com"); len(subs) != 0 {
		t.Fatalf("another member's subscriptions: %v", subs)
	}

	// Restored/… is server-made: subscribed, whatever the folder was.
	carol, _ := s.User(ctx, "carol@example.com")
	if _, err := s.CreateClientFolder(ctx, carol.MailboxID, "Mine", ""); err != nil {
		t.Fatal(err)
	}
	res, err := s.Reassign(ctx, "bob@example.com", "carol@example.com", "admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RestoreTrash(ctx, res.Trashed.ID); err != nil {
		t.Fatal(err)
	}
	carol, _ = s.User(ctx, "carol@example.com")
	if got, err := s.GetFolder(ctx, carol.MailboxID, "Restored/Mine"); err != nil || !got.Subscribed {
		t.Fatalf("Restored/Mine: %+v %v", got, err)
	}

	ended, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.CreateClientFolder(ended, alice.MailboxID, "Never", ""); err == nil {
		t.Fatal("created with a cancelled context")
	}
}
