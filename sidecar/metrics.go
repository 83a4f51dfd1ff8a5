package sidecar

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pgparquet/pgparquet/outcome"
	"github.com/pgparquet/pgparquet/sql/control"
)

// Outcomes counted by metrics, besides the states Fail returns (queued, failed, cancelled).
const (
	resultSucceeded = "succeeded"
	resultCancelled = "cancelled"
	resultReleased  = "released"
)

// metrics are this sidecar's counters, written in the Prometheus text format by Handler.
type metrics struct {
	running   atomic.Int64
	stale     atomic.Int64
	scheduled atomic.Int64 // requests this sidecar queued for schedules
	deleted   atomic.Int64 // exports whose files this sidecar deleted (expired or asked)
	// chainsBroken counts the incremental chains whose slot this sidecar dropped for holding
	// back too much WAL.
	chainsBroken atomic.Int64

	mu         sync.Mutex
	outcomes   map[string]int64
	rows       int64
	copyBytes  int64
	outBytes   int64
	seconds    float64
	exportsSec int64
}

func newMetrics() *metrics { return &metrics{outcomes: map[string]int64{}} }

// finished counts one export's outcome; res is set for a succeeded one.
func (m *metrics) finished(outcome string, res *outcome.Result) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.outcomes[outcome]++
	if res != nil {
		m.rows += res.Rows
		m.copyBytes += res.CopyBytes
		m.outBytes += res.OutputBytes
		m.seconds += res.Seconds
		m.exportsSec++
	}
}

// Handler serves /healthz (200 while the sidecar listens and its last poll succeeded within
// three poll intervals, else 503 with the reason) and /metrics (Prometheus text format:
// this sidecar's exports by outcome, rows, bytes, durations, and requests by state in the
// database). Neither shows connection settings.
func (s *Sidecar) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if reason := s.unhealthy(); reason != "" {
			http.Error(w, reason, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		fmt.Fprint(w, s.metricsText(r.Context()))
	})
	return mux
}

func (s *Sidecar) unhealthy() string {
	if !s.listening.Load() {
		return "not listening: no connection to PostgreSQL"
	}
	last := s.lastPoll.Load()
	if last == 0 || time.Since(time.Unix(0, last)) > 3*s.cfg.PollInterval+control.OpTimeout {
		return "no successful poll of the queue lately"
	}
	return ""
}

func (s *Sidecar) metricsText(ctx context.Context) string {
	var b strings.Builder
	metric := func(name, typ, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	m := s.metrics
	m.mu.Lock()
	outcomes := make([]string, 0, len(m.outcomes))
	for o := range m.outcomes {
		outcomes = append(outcomes, o)
	}
	sort.Strings(outcomes)
	metric("pgparquet_sidecar_exports_total", "counter", "Exports this sidecar finished, by outcome.")
	for _, o := range outcomes {
		fmt.Fprintf(&b, "pgparquet_sidecar_exports_total{outcome=%q} %d\n", o, m.outcomes[o])
	}
	metric("pgparquet_sidecar_rows_total", "counter", "Rows exported by succeeded exports.")
	fmt.Fprintf(&b, "pgparquet_sidecar_rows_total %d\n", m.rows)
	metric("pgparquet_sidecar_copy_bytes_total", "counter", "COPY bytes read by succeeded exports.")
	fmt.Fprintf(&b, "pgparquet_sidecar_copy_bytes_total %d\n", m.copyBytes)
	metric("pgparquet_sidecar_output_bytes_total", "counter", "Parquet bytes written by succeeded exports.")
	fmt.Fprintf(&b, "pgparquet_sidecar_output_bytes_total %d\n", m.outBytes)
	metric("pgparquet_sidecar_export_duration_seconds", "summary", "Duration of succeeded exports.")
	fmt.Fprintf(&b, "pgparquet_sidecar_export_duration_seconds_sum %g\npgparquet_sidecar_export_duration_seconds_count %d\n", m.seconds, m.exportsSec)
	m.mu.Unlock()
	metric("pgparquet_sidecar_running_exports", "gauge", "Exports running on this sidecar.")
	fmt.Fprintf(&b, "pgparquet_sidecar_running_exports %d\n", m.running.Load())
	metric("pgparquet_sidecar_stale_requeued_total", "counter", "Requests of dead sidecars this sidecar re-queued or failed.")
	fmt.Fprintf(&b, "pgparquet_sidecar_stale_requeued_total %d\n", m.stale.Load())
	metric("pgparquet_sidecar_listening", "gauge", "1 while the sidecar LISTENs for new requests.")
	fmt.Fprintf(&b, "pgparquet_sidecar_listening %d\n", b2i(s.listening.Load()))
	metric("pgparquet_sidecar_scheduler_leader", "gauge", "1 while this sidecar leads the scheduling of exports.")
	fmt.Fprintf(&b, "pgparquet_sidecar_scheduler_leader %d\n", b2i(s.leader.Load()))
	metric("pgparquet_sidecar_scheduled_total", "counter", "Requests this sidecar queued for due schedule slots.")
	fmt.Fprintf(&b, "pgparquet_sidecar_scheduled_total %d\n", m.scheduled.Load())
	metric("pgparquet_sidecar_deleted_exports_total", "counter", "Exports whose files this sidecar deleted (expired, or deletion asked).")
	fmt.Fprintf(&b, "pgparquet_sidecar_deleted_exports_total %d\n", m.deleted.Load())
	metric("pgparquet_sidecar_chains_broken_total", "counter", "Incremental chains whose slot this sidecar dropped for holding back more WAL than the ceiling.")
	fmt.Fprintf(&b, "pgparquet_sidecar_chains_broken_total %d\n", m.chainsBroken.Load())

	counts, err := s.db.CountByState(ctx)
	metric("pgparquet_up", "gauge", "1 when the last query for requests by state succeeded.")
	fmt.Fprintf(&b, "pgparquet_up %d\n", b2i(err == nil))
	if err == nil {
		metric("pgparquet_requests", "gauge", "Requests in the control tables, by state.")
		for _, st := range []string{"queued", "running", "succeeded", "failed", "cancelled"} {
			fmt.Fprintf(&b, "pgparquet_requests{state=%q} %d\n", st, counts[st])
		}
	}
	return b.String()
}

func b2i(v bool) int {
	if v {
		return 1
	}
	return 0
}
