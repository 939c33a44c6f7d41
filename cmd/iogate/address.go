package main

import (
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/iogate/iogate"
	"github.com/spf13/cobra"
)

func newAddressCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "address",
		Short: "Manage the blocks of source addresses after failed authentication",
		Long: "Servers slow down, then block, a source address that fails to authenticate too often\n" +
			"(--auth-failures-before-slowdown, --auth-failures-before-block, --auth-block-duration of iogate serve).\n" +
			"Each server keeps its blocks in memory, so a restart forgets them.",
	}
	cmd.AddCommand(newAddressUnblockCommand(g))
	return cmd
}

// unblockedAddress is the output of "iogate address unblock".
type unblockedAddress struct {
	// Address is the CIDR prefix whose addresses the servers unblock.
	Address  string `json:"address"`
	Recorded bool   `json:"recorded"`
}

func newAddressUnblockCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "unblock ADDRESS_OR_PREFIX",
		Short: "Lift the block of an address or prefix on every running server",
		Long: "Lift the block, the slowdown and the failure count of an address, or of every address in a prefix,\n" +
			"on every running server. The command records the unblock in the database, and each server, on SQLite or\n" +
			"PostgreSQL, reads it from its change feed within a second and logs what it lifted. The per-address\n" +
			"request rate limits still apply.\n\n" +
			"ADDRESS_OR_PREFIX is an IP address or a CIDR prefix in canonical form, without host bits. Servers count\n" +
			"IPv6 addresses per /64, so an IPv6 address unblocks its /64, and an IPv6 prefix must be /64 or shorter.\n\n" +
			"The command cannot see the servers' blocks. It succeeds whether or not a server has blocked the address,\n" +
			"and a server that has not leaves its state as it is. Blocks made after the command are not lifted.",
		Example: "  iogate address unblock 203.0.113.7\n" +
			"  iogate address unblock 198.51.100.0/24\n" +
			"  iogate address unblock 2001:db8:1:2::/64 --json",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			prefix, err := iogate.ParseBlockedAddress(args[0])
			if err != nil {
				return err
			}
			store, _, err := g.openStore(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer store.Close()
			operator := iogate.ActorFrom(cmd.Context()).ID
			if err := store.RecordAddressUnblock(cmd.Context(), prefix, operator); err != nil {
				return err
			}
			out := unblockedAddress{Address: prefix.String(), Recorded: true}
			return g.printResult(out, func(w io.Writer) { printUnblock(w, args[0], prefix) })
		},
	}
}

// printUnblock writes the text output of an unblock of prefix, which the operator gave as
// input.
func printUnblock(w io.Writer, input string, prefix netip.Prefix) {
	if !strings.Contains(input, "/") && prefix.Addr().Is6() {
		fmt.Fprintf(w, "Servers count IPv6 addresses per /%d, so the unblock of %s covers %s.\n", iogate.IPv6BlockBits, input, prefix)
	}
	fmt.Fprintf(w, "Recorded an unblock of %s. Every running server lifts the block, the slowdown and the failure count\n", prefix)
	fmt.Fprintf(w, "of the addresses in it within a second, and logs what it lifted. An address that no server has blocked is not an error.\n")
}
