package main

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/pgparquet/pgparquet/outcome"
)

// progressBar shows an export's progress: a redrawn line on a terminal, a log line every few
// seconds otherwise. update is called from one goroutine at a time.
type progressBar struct {
	w       io.Writer
	tty     bool
	log     *slog.Logger
	last    outcome.Progress
	lastLog time.Time
	drawn   bool
}

func (p *progressBar) update(pr outcome.Progress) {
	p.last = pr
	secs := pr.Elapsed.Seconds()
	mbps := 0.0
	if secs > 0 {
		mbps = float64(pr.CopyBytes) / secs / 1e6
	}
	pct, eta := -1.0, ""
	if pr.EstimatedRows > 0 {
		pct = min(100*float64(pr.Rows)/float64(pr.EstimatedRows), 99.9)
	} else if pr.Tasks > 0 {
		pct = 100 * float64(pr.TasksDone) / float64(pr.Tasks)
	}
	if pct > 0 && pct < 100 {
		left := time.Duration(secs * (100 - pct) / pct * float64(time.Second)).Round(time.Second)
		eta = left.String()
	}
	if p.tty {
		line := fmt.Sprintf("\r%s rows  %.1f MB/s  tasks %d/%d", groupDigits(pr.Rows), mbps, pr.TasksDone, pr.Tasks)
		if pct >= 0 {
			line += fmt.Sprintf("  %4.1f%%", pct)
		}
		if eta != "" {
			line += "  ETA " + eta
		}
		fmt.Fprintf(p.w, "%-80s", line)
		p.drawn = true
		return
	}
	if time.Since(p.lastLog) >= 5*time.Second {
		p.lastLog = time.Now()
		p.log.Info("progress", "rows", pr.Rows, "copy_bytes", pr.CopyBytes, "mb_per_s", fmt.Sprintf("%.1f", mbps),
			"tasks_done", pr.TasksDone, "tasks", pr.Tasks, "eta", eta)
	}
}

// done ends the progress line so that what follows starts on a fresh line.
func (p *progressBar) done() {
	if p.tty && p.drawn {
		fmt.Fprintln(p.w)
	}
}

// groupDigits prints n with thousands separators.
func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
