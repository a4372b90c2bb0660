package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"mailsrv/auth"
	"mailsrv/server/admin"
)

// readPassword reads one line from stdin (for --password-stdin).
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password on standard input")
	}
	return pw, nil
}

// passwordFrom returns the password from stdin, or a generated one and true.
func passwordFrom(cmd *cobra.Command, stdin bool) (string, bool, error) {
	if stdin {
		pw, err := readPassword(cmd.InOrStdin())
		return pw, false, err
	}
	return auth.GeneratePassword(), true, nil
}

// User returns `mailsrv user …`.
func User(g *Globals) *cobra.Command {
	c := &cobra.Command{Use: "user", Short: "Manage user accounts"}
	var name string
	var stdin bool
	add := &cobra.Command{
		Use: "add ADDRESS", Short: "Add a user (prints a generated password unless --password-stdin)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, generated, err := passwordFrom(cmd, stdin)
			if err != nil {
				return failed(err)
			}
			if err := g.simple(cmd, "user.add", admin.UserArgs{Address: args[0], Name: name, Password: pw}); err != nil {
				return err
			}
			if generated {
				fmt.Fprintf(cmd.OutOrStdout(), "password: %s\n(shown once; change it with `mailsrv user passwd %s`)\n", pw, args[0])
			}
			return nil
		},
	}
	add.Flags().StringVar(&name, "name", "", "display name")
	add.Flags().BoolVar(&stdin, "password-stdin", false, "read the password from standard input")
	c.AddCommand(add)

	var asJSON bool
	list := &cobra.Command{
		Use: "list", Short: "List users", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return listCmd(g, cmd, asJSON, "user.list", nil, func(w io.Writer, us []admin.UserInfo) {
				tw := table(w)
				fmt.Fprintln(tw, "ADDRESS\tNAME\tMESSAGES\tBYTES")
				for _, u := range us {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", u.Address, u.Name, u.Messages, u.Bytes)
				}
				tw.Flush()
			})
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.AddCommand(list)

	c.AddCommand(&cobra.Command{
		Use: "remove ADDRESS", Short: "Remove a user (their mail goes to the recycle bin)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.simple(cmd, "user.remove", admin.UserArgs{Address: args[0]})
		},
	})

	var pwStdin bool
	passwd := &cobra.Command{
		Use: "passwd ADDRESS", Short: "Set a user's password (prints a generated one unless --password-stdin)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, generated, err := passwordFrom(cmd, pwStdin)
			if err != nil {
				return failed(err)
			}
			if err := g.simple(cmd, "user.passwd", admin.UserArgs{Address: args[0], Password: pw}); err != nil {
				return err
			}
			if generated {
				fmt.Fprintf(cmd.OutOrStdout(), "password: %s\n", pw)
			}
			return nil
		},
	}
	passwd.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from standard input")
	c.AddCommand(passwd)
	return c
}

// Alias returns `mailsrv alias …`.
func Alias(g *Globals) *cobra.Command {
	c := &cobra.Command{Use: "alias", Short: "Manage aliases (use @domain for a catch-all)"}
	c.AddCommand(&cobra.Command{
		Use: "add ADDRESS TARGET", Short: "Deliver ADDRESS to TARGET (a local user or shared mailbox)", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.simple(cmd, "alias.add", admin.AliasArgs{Address: args[0], Target: args[1]})
		},
	})
	var asJSON bool
	list := &cobra.Command{
		Use: "list", Short: "List aliases", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return listCmd(g, cmd, asJSON, "alias.list", nil, func(w io.Writer, as []admin.AliasInfo) {
				tw := table(w)
				fmt.Fprintln(tw, "ALIAS\tTARGETS")
				for _, a := range as {
					fmt.Fprintf(tw, "%s\t%s\n", a.Address, strings.Join(a.Targets, ","))
				}
				tw.Flush()
			})
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.AddCommand(list)
	c.AddCommand(&cobra.Command{
		Use: "remove ADDRESS", Short: "Remove an alias", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.simple(cmd, "alias.remove", admin.AliasArgs{Address: args[0]})
		},
	})
	return c
}
