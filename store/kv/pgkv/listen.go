package pgkv

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Listen calls changed whenever a write transaction commits on any server
// sharing the database (NOTIFY on NotifyChannel), until ctx ends. It also
// calls changed each time it (re)connects, because notifications sent
// while no connection listened are lost: the caller then reads what it
// missed. A lost connection is retried with a growing pause (up to 5 s);
// errors go to logf. changed runs on Listen's goroutine and should only
// signal someone else.
func (d *DB) Listen(ctx context.Context, changed func(), logf func(msg string, err error)) {
	pause := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := d.listenOnce(ctx, changed, func() { pause = 100 * time.Millisecond })
		if ctx.Err() != nil {
			return
		}
		logf("pgkv: listening for changes failed; reconnecting", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		if pause *= 2; pause > 5*time.Second {
			pause = 5 * time.Second
		}
	}
}

func (d *DB) listenOnce(ctx context.Context, changed, connected func()) error {
	cfg, err := pgx.ParseConfig(d.url)
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+NotifyChannel); err != nil {
		return err
	}
	connected()
	changed() // catch up on what happened while nobody listened
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		changed()
	}
}
