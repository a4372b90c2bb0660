package store

import "context"

// DeliverBytes is Deliver for a message the server composed in memory
// (bounces, automatic replies): it writes msg to a new body file, fsyncs
// it and delivers it as d says (d.Blob is set here). On error nothing is
// kept, the body file included.
func (s *Store) DeliverBytes(ctx context.Context, d Delivery, msg []byte) ([]Delivered, error) {
	w, err := s.NewBlob(ctx, 0)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(msg); err != nil {
		w.Abort()
		return nil, err
	}
	if err := w.Sync(); err != nil {
		w.Abort()
		return nil, err
	}
	d.Blob = w
	res, err := s.Deliver(ctx, d)
	if err != nil {
		w.Abort()
		return nil, err
	}
	return res, nil
}
