package proxy

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Config configures a Proxier.
type Config struct {
	// Table is the nftables table (family ip); "gantry" when empty.
	Table string
	// NodeName selects the local endpoints for externalTrafficPolicy Local.
	NodeName string
	// NodeIPs are the addresses NodePorts answer on.
	NodeIPs []netip.Addr
	// ClusterCIDR, when valid, masquerades cluster-IP traffic from sources
	// outside it.
	ClusterCIDR netip.Prefix
	// ServiceCIDR, when valid, rejects new connections to addresses in it
	// that no service port took (deleted services, unknown ports).
	ServiceCIDR netip.Prefix
	// NetNSPath, when set, programs the network namespace at that path
	// (e.g. /run/netns/x) instead of the current one.
	NetNSPath string
	// ServicesPerTransaction bounds one transaction of a full Sync; 100
	// when zero. Update and Delete are always one transaction.
	ServicesPerTransaction int
	// Shards is the number of tables service chains are spread over
	// (<Table>-00 …); 16 when zero. 1 keeps them in one table, at a
	// kernel cost per change that grows with the number of services.
	Shards int
}

// Proxier keeps the nftables table in line with the desired service ports.
// Safe for concurrent use.
type Proxier struct {
	mu         sync.Mutex
	cfg        Config
	conn       *nftables.Conn
	netns      *os.File
	base       *base
	planner    *planner
	programmed map[string]*programmed // by ServicePort.Key; nil before the first Sync
	stale      staleItems
}

// staleItems are emptied chains and unused sets waiting to be deleted.
type staleItems struct {
	chains, sets []ref
}

// programmed is what the proxier last wrote for one service port.
type programmed struct {
	plan        *plan
	fingerprint string
	input       *ServicePort // what the plan was built from
}

// New opens a netlink connection (in cfg.NetNSPath if set). Nothing is
// written until the first Sync.
func New(cfg Config) (*Proxier, error) {
	if cfg.Table == "" {
		cfg.Table = "gantry"
	}
	if cfg.ServicesPerTransaction <= 0 {
		cfg.ServicesPerTransaction = 100
	}
	if cfg.Shards <= 0 {
		cfg.Shards = 16
	}
	p := &Proxier{cfg: cfg, base: newBase(cfg.Table, cfg.Shards, cfg.ServiceCIDR)}
	p.planner = &planner{base: p.base, node: cfg.NodeName, clusterCIDR: cfg.ClusterCIDR}
	opts := []nftables.ConnOption{nftables.AsLasting(), nftables.WithSockOptions(bigBuffers)}
	if cfg.NetNSPath != "" {
		f, err := os.Open(cfg.NetNSPath)
		if err != nil {
			return nil, fmt.Errorf("proxy: open netns: %w", err)
		}
		p.netns = f
		opts = append(opts, nftables.WithNetNSFd(int(f.Fd())))
	}
	conn, err := nftables.New(opts...)
	if err != nil {
		p.closeNetNS()
		return nil, fmt.Errorf("%w: connect: %w", ErrNFTables, err)
	}
	p.conn = conn
	return p, nil
}

// socketBuffer bounds one transaction: the whole batch is one sendmsg
// and its acknowledgements must fit the receive buffer.
const socketBuffer = 32 << 20

// bigBuffers lets a large transaction and its acknowledgements fit: the
// FORCE options pass the sysctl caps (CAP_NET_ADMIN, which programming
// nftables needs anyway); the plain ones are the fallback.
func bigBuffers(c *netlink.Conn) error {
	if err := c.SetOption(netlink.CapAcknowledge, true); err != nil {
		return err
	}
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var sockErr error
	err = raw.Control(func(fd uintptr) {
		sockErr = errors.Join(
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, socketBuffer),
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, socketBuffer))
	})
	if err == nil && sockErr == nil {
		return nil
	}
	return errors.Join(c.SetWriteBuffer(socketBuffer), c.SetReadBuffer(socketBuffer))
}

// Close releases the connection; the table stays (see Cleanup).
func (p *Proxier) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.conn.CloseLasting()
	p.closeNetNS()
	return err
}

func (p *Proxier) closeNetNS() {
	if p.netns != nil {
		p.netns.Close()
		p.netns = nil
	}
}

// Cleanup removes the tables and everything in them. Missing tables are
// not an error.
func (p *Proxier) Cleanup() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.programmed, p.stale = nil, staleItems{}
	tables, err := p.ourTables()
	if err != nil || len(tables) == 0 {
		return err
	}
	for _, t := range tables {
		p.conn.DelTable(t)
	}
	return p.flush("cleanup")
}

// ourTables lists the tables that exist now and are named as ours: the
// main table and <Table>-NN shards, also shards of an earlier, larger
// Shards setting.
func (p *Proxier) ourTables() ([]*nftables.Table, error) {
	tables, err := p.conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, fmt.Errorf("%w: list tables: %w", ErrNFTables, err)
	}
	var out []*nftables.Table
	for _, t := range tables {
		if t.Name == p.cfg.Table || isShardName(p.cfg.Table, t.Name) {
			out = append(out, t)
		}
	}
	return out, nil
}

func isShardName(table, name string) bool {
	rest, ok := strings.CutPrefix(name, table+"-")
	if !ok || len(rest) < 2 {
		return false
	}
	_, err := strconv.Atoi(rest)
	return err == nil
}

func (p *Proxier) flush(what string) error {
	if err := p.conn.Flush(); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrNFTables, what, err)
	}
	return nil
}

// ErrNotSynced: Update or Delete before the first Sync.
var ErrNotSynced = errors.New("proxy: not synced yet")
