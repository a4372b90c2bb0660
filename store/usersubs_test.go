package store

import "testing"

func TestUserSubscriptionsAndAccountRemoval(t *testing.T) {
	s := newTestStore(t)
	for _, u := range []string{"alice@example.com", "bob@example.com"} {
		if _, err := s.AddUser(t.Context(), u, "", "x"); err != nil {
			t.Fatal(err)
		}
	}
	info, err := s.CreateShared(t.Context(), "info@example.com", "Info", "alice@example.com", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	junk, err := s.GetFolder(t.Context(), info.ID, "Junk")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetUserSubscribed(t.Context(), "Bob@Example.com", junk.ID, false); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUserSubscribed(t.Context(), "bob@example.com", 999999, true); err == nil {
		t.Fatal("subscribed to a folder that does not exist")
	}
	got, err := s.UserSubscriptions(t.Context(), "bob@example.com")
	if err != nil || len(got) != 1 || got[junk.ID] != false {
		t.Fatalf("bob's subscriptions %v %v", got, err)
	}
	if got, _ := s.UserSubscriptions(t.Context(), "alice@example.com"); len(got) != 0 {
		t.Fatalf("alice has bob's subscriptions: %v", got)
	}
	if _, err := s.RemoveUser(t.Context(), "bob@example.com"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.UserSubscriptions(t.Context(), "bob@example.com"); len(got) != 0 {
		t.Fatalf("subscriptions left after removing the account: %v", got)
	}
}
