package store

import "context"

// DeliverAll commits several deliveries in one transaction: either all
// of them are stored or none is (IMAP MULTIAPPEND, RFC 3502). It returns
// where each delivery landed, in order. On error the caller should Abort
// every blob.
func (s *Store) DeliverAll(ctx context.Context, ds []Delivery) ([][]Delivered, error) {
	ps := make([]*preparedDelivery, len(ds))
	for i := range ds {
		p, err := s.prepareDelivery(&ds[i])
		if err != nil {
			return nil, err
		}
		ps[i] = p
	}
	var outs [][]Delivered
	err := s.update(ctx, func(t *Tx) error {
		outs = outs[:0]
		for i := range ds {
			out, err := t.deliver(&ds[i], ps[i])
			if err != nil {
				return err
			}
			outs = append(outs, out)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return outs, nil
}
