package incremental

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgparquet/pgparquet/outcome"
)

// statusEvery is how often a change run tells the server it is alive, asking for a keepalive
// that says how far decoding has come.
const statusEvery = time.Second

// streamer reads one run's changes from the slot: every transaction whose commit record
// starts before target, in commit order. Protocol 2 with streaming on: the server sends a
// large transaction in chunks while it runs (instead of spilling it to disk until it
// commits); the chunks are kept in memory and applied at its commit, dropped at its abort. It stops between transactions, once the server says
// it decoded past target (a keepalive) or a transaction commits at or past it (its Begin).
type streamer struct {
	conn   *pgconn.PgConn
	w      *changeWriter
	rel    uint32
	from   pglogrepl.LSN
	target pglogrepl.LSN

	inTxn      bool
	inStream   bool
	streamXid  uint32
	streamed   map[uint32][]streamedMsg // by transaction: the chunks of streamed transactions
	xid        uint32
	commitLSN  pglogrepl.LSN
	commitTime time.Time
	done       bool

	// progress, when set, is told now and then how far the stream got (rows written, WAL
	// bytes past from).
	progress     func(outcome.Progress)
	start        time.Time
	lastProgress time.Time
}

func (s *streamer) run(ctx context.Context, slot string) error {
	err := pglogrepl.StartReplication(ctx, s.conn, slot, s.from, pglogrepl.StartReplicationOptions{
		Mode: pglogrepl.LogicalReplication,
		PluginArgs: []string{"proto_version '2'", "publication_names '" + strings.ReplaceAll(pgx.Identifier{slot}.Sanitize(), "'", "''") + "'",
			"binary 'true'", "streaming 'on'"},
	})
	if err != nil {
		return fmt.Errorf("start replication from slot %s at %s: %w", slot, s.from, err)
	}
	var lastStatus time.Time
	for !s.done {
		if time.Since(lastStatus) >= statusEvery {
			// Write and flush stay at the run's start: the slot must not move before the run is
			// published.
			if err := pglogrepl.SendStandbyStatusUpdate(ctx, s.conn, pglogrepl.StandbyStatusUpdate{
				WALWritePosition: s.from, WALFlushPosition: s.from, WALApplyPosition: s.from, ReplyRequested: true}); err != nil {
				return fmt.Errorf("stream slot %s: send status: %w", slot, err)
			}
			lastStatus = time.Now()
		}
		rctx, cancel := context.WithDeadline(ctx, lastStatus.Add(statusEvery))
		msg, err := s.conn.ReceiveMessage(rctx)
		cancel()
		if err != nil {
			if pgconn.Timeout(err) && ctx.Err() == nil {
				continue
			}
			return fmt.Errorf("stream slot %s: %w", slot, err)
		}
		switch msg := msg.(type) {
		case *pgproto3.CopyData:
			if err := s.handle(ctx, msg.Data, &lastStatus); err != nil {
				return fmt.Errorf("stream slot %s: %w", slot, err)
			}
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("stream slot %s: %w", slot, pgconn.ErrorResponseToPgError(msg))
		}
	}
	return nil
}

func (s *streamer) handle(ctx context.Context, data []byte, lastStatus *time.Time) error {
	if len(data) == 0 {
		return nil
	}
	switch data[0] {
	case pglogrepl.PrimaryKeepaliveMessageByteID:
		k, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
		if err != nil {
			return err
		}
		if !s.inTxn && !s.inStream && k.ServerWALEnd >= s.target {
			s.done = true
		}
		if k.ReplyRequested {
			*lastStatus = time.Time{}
		}
	case pglogrepl.XLogDataByteID:
		x, err := pglogrepl.ParseXLogData(data[1:])
		if err != nil {
			return err
		}
		if s.progress != nil && time.Since(s.lastProgress) >= time.Second && x.WALStart > s.from {
			s.lastProgress = time.Now()
			var rows int64
			for _, n := range s.w.ops {
				rows += n
			}
			s.progress(outcome.Progress{Rows: rows, CopyBytes: int64(x.WALStart - s.from), EstimatedRows: -1,
				Elapsed: time.Since(s.start)})
		}
		return s.decode(ctx, x.WALData)
	}
	return nil
}

func (s *streamer) decode(ctx context.Context, data []byte) error {
	m, err := pglogrepl.ParseV2(data, s.inStream)
	if err != nil {
		return fmt.Errorf("parse pgoutput message: %w", err)
	}
	switch m := m.(type) {
	case *pglogrepl.BeginMessage:
		if m.FinalLSN >= s.target {
			s.done = true
			return nil
		}
		s.inTxn, s.xid, s.commitLSN, s.commitTime = true, m.Xid, m.FinalLSN, m.CommitTime
	case *pglogrepl.CommitMessage:
		s.inTxn = false
	case *pglogrepl.StreamStartMessageV2:
		s.inStream, s.streamXid = true, m.Xid
	case *pglogrepl.StreamStopMessageV2:
		s.inStream = false
	case *pglogrepl.StreamAbortMessageV2:
		s.abortStreamed(m.Xid, m.SubXid)
	case *pglogrepl.StreamCommitMessageV2:
		if m.CommitLSN >= s.target {
			s.done = true
			return nil
		}
		s.xid, s.commitLSN, s.commitTime = m.Xid, m.CommitLSN, m.CommitTime
		msgs := s.streamed[m.Xid]
		delete(s.streamed, m.Xid)
		for _, b := range msgs {
			mm, err := pglogrepl.ParseV2(b.data, true)
			if err != nil {
				return fmt.Errorf("parse pgoutput message: %w", err)
			}
			if err := s.apply(ctx, mm); err != nil {
				return err
			}
		}
	default:
		if s.inStream {
			// A chunk of a transaction in progress (protocol 2): kept until it commits or
			// aborts, in memory.
			if s.streamed == nil {
				s.streamed = map[uint32][]streamedMsg{}
			}
			s.streamed[s.streamXid] = append(s.streamed[s.streamXid], streamedMsg{subXid: inStreamXid(m), data: append([]byte(nil), data...)})
			return nil
		}
		return s.apply(ctx, m)
	}
	return nil
}

// streamedMsg is one message of a streamed transaction, and the (sub)transaction it is of.
type streamedMsg struct {
	subXid uint32
	data   []byte
}

// abortStreamed forgets a streamed transaction (xid == subXid) or one of its subtransactions.
func (s *streamer) abortStreamed(xid, subXid uint32) {
	if xid == subXid {
		delete(s.streamed, xid)
		return
	}
	msgs := s.streamed[xid][:0]
	for _, m := range s.streamed[xid] {
		if m.subXid != subXid {
			msgs = append(msgs, m)
		}
	}
	s.streamed[xid] = msgs
}

// inStreamXid is the (sub)transaction of a message sent inside a stream.
func inStreamXid(m pglogrepl.Message) uint32 {
	switch m := m.(type) {
	case *pglogrepl.InsertMessageV2:
		return m.Xid
	case *pglogrepl.UpdateMessageV2:
		return m.Xid
	case *pglogrepl.DeleteMessageV2:
		return m.Xid
	case *pglogrepl.TruncateMessageV2:
		return m.Xid
	case *pglogrepl.RelationMessageV2:
		return m.Xid
	case *pglogrepl.TypeMessageV2:
		return m.Xid
	case *pglogrepl.LogicalDecodingMessageV2:
		return m.Xid
	}
	return 0
}

// apply turns one change of a committed transaction into change rows.
func (s *streamer) apply(ctx context.Context, m pglogrepl.Message) error {
	switch m := m.(type) {
	case *pglogrepl.RelationMessageV2:
		if m.RelationID != s.rel {
			return nil
		}
		cols := make([]outcome.SchemaColumn, len(m.Columns))
		for i, c := range m.Columns {
			cols[i] = outcome.SchemaColumn{Name: c.Name, TypeOID: c.DataType, Typmod: c.TypeModifier, Key: c.Flags&1 != 0}
		}
		return s.w.setSchema(ctx, cols)
	case *pglogrepl.InsertMessageV2:
		if m.RelationID == s.rel {
			return s.w.add(ctx, s.change(opInsert), m.Tuple)
		}
	case *pglogrepl.UpdateMessageV2:
		if m.RelationID != s.rel {
			return nil
		}
		if m.OldTuple != nil {
			if err := s.w.add(ctx, s.change(opUpdateOld), m.OldTuple); err != nil {
				return err
			}
		}
		return s.w.add(ctx, s.change(opUpdate), m.NewTuple)
	case *pglogrepl.DeleteMessageV2:
		if m.RelationID == s.rel {
			return s.w.add(ctx, s.change(opDelete), m.OldTuple)
		}
	case *pglogrepl.TruncateMessageV2:
		for _, id := range m.RelationIDs {
			if id == s.rel {
				return s.w.add(ctx, s.change(opTruncate), nil)
			}
		}
	}
	return nil
}

func (s *streamer) change(op string) changeMeta {
	return changeMeta{op: op, lsn: int64(s.commitLSN), xid: int64(s.xid), commitTime: s.commitTime}
}
