package server

import (
	"context"
	"time"
)

// purgeInterval is how often the recycle bin is swept. Hourly keeps an item
// at most an hour past its retention without measurable cost.
const purgeInterval = time.Hour

// purgeRecycleBin deletes recycle-bin items older than
// retention.recycle_bin_days, at start and then every purgeInterval.
func (s *Server) purgeRecycleBin(ctx context.Context) {
	retention := time.Duration(s.cfg.Retention.RecycleBinDays) * 24 * time.Hour
	t := time.NewTicker(purgeInterval)
	defer t.Stop()
	for {
		purged, err := s.store.PurgeExpired(retention)
		if err != nil {
			s.log.Error("recycle bin purge", "err", err)
		}
		for _, it := range purged {
			s.log.Info("recycle bin item purged", "id", it.ID, "kind", it.Kind, "address", it.Address, "deleted_at", it.DeletedAt)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
