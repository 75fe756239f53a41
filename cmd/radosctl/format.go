package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/loligo/loligo/crush"
	pb "github.com/loligo/loligo/proto/loligopb"
)

// table is a text table for people: a header row, columns separated by
// two spaces, numbers right-aligned, no trailing blanks.
type table struct {
	heads []string
	right []bool
	rows  [][]string
}

// newTable makes a table; a heading ending in ">" names a right-aligned
// column (the ">" is not printed).
func newTable(heads ...string) *table {
	t := &table{}
	for _, h := range heads {
		r := strings.HasSuffix(h, ">")
		t.heads = append(t.heads, strings.TrimSuffix(h, ">"))
		t.right = append(t.right, r)
	}
	return t
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer) error {
	widths := make([]int, len(t.heads))
	for _, row := range append([][]string{t.heads}, t.rows...) {
		for i, c := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	for _, row := range append([][]string{t.heads}, t.rows...) {
		var line strings.Builder
		for i, c := range row {
			if i > 0 {
				line.WriteString("  ")
			}
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			if t.right[i] {
				line.WriteString(pad + c)
			} else {
				line.WriteString(c + pad)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// fixedFloat converts a 16.16 fixed-point value.
func fixedFloat(v uint32) float64 { return float64(v) / crush.WeightOne }

// weightf prints a weight as Ceph's weightf_t does: five decimals, or
// "0".
func weightf(v uint32) string {
	f := float32(v) / crush.WeightOne
	if f < 0.000001 {
		return "0"
	}
	return strconv.FormatFloat(float64(f), 'f', 5, 32)
}

// g6 prints a float as a C++ ostream does by default (six significant
// digits), as Ceph's osd dump prints weights.
func g6(v uint32) string {
	return strconv.FormatFloat(float64(float32(v)/crush.WeightOne), 'g', 6, 32)
}

// crushWeight converts a weight typed by a person to 16.16.
func crushWeight(f float64) (uint32, error) {
	w, err := crush.WeightFromFloat(f)
	if err != nil {
		if errors.Is(err, crush.ErrInvalidArgument) {
			return 0, errors.New(strings.TrimPrefix(err.Error(), crush.ErrInvalidArgument.Error()+": "))
		}
		return 0, err
	}
	return w, nil
}

// osdList prints OSD ids as Ceph does: [0,2,1].
func osdList(osds []int32) string { return string(crush.AppendList(nil, osds)) }

// cephTime prints a time as Ceph's utime_t does (UTC).
func cephTime(t time.Time) string {
	if t.IsZero() {
		return "0.000000"
	}
	return t.UTC().Format("2006-01-02T15:04:05.000000-0700")
}

// jsonTime is a time in -o json output: RFC 3339 with nanoseconds, or ""
// when unset.
func jsonTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// replyJSON is the -o json form of every map-changing command's result.
type replyJSON struct {
	// DryRun: nothing was changed; the rest says what would be.
	DryRun bool `json:"dry_run"`
	// Epoch is the epoch the change made, 0 if nothing changed.
	Epoch   uint64 `json:"epoch"`
	Message string `json:"message"`
	// ID is what a creation made or a removal removed (pool, rule or
	// bucket id); absent for other commands.
	ID *int64 `json:"id,omitempty"`
	// Movement is present for changes that can move data.
	Movement *movementJSON `json:"movement,omitempty"`
}

type movementJSON struct {
	PGs      uint32        `json:"pgs"`
	Moved    uint32        `json:"moved"`
	Degraded uint32        `json:"degraded"`
	OSDs     []osdMoveJSON `json:"osds"`
}

type osdMoveJSON struct {
	OSD    int32  `json:"osd"`
	Gained uint32 `json:"gained"`
	Lost   uint32 `json:"lost"`
}

// printReply reports a command's result.
func printReply(e *env, rep *pb.CommandReply, dryRun, withID bool) error {
	mv := rep.GetMovement()
	if e.json {
		out := replyJSON{DryRun: dryRun, Epoch: rep.GetEpoch(), Message: rep.GetMessage()}
		if withID {
			id := rep.GetId()
			out.ID = &id
		}
		if mv != nil {
			mj := &movementJSON{PGs: mv.GetPgs(), Moved: mv.GetMoved(), Degraded: mv.GetDegraded(), OSDs: []osdMoveJSON{}}
			for _, o := range mv.GetOsds() {
				mj.OSDs = append(mj.OSDs, osdMoveJSON{OSD: o.GetOsd(), Gained: o.GetGained(), Lost: o.GetLost()})
			}
			out.Movement = mj
		}
		return writeJSON(e, out)
	}
	w := e.stdout
	switch {
	case dryRun:
		fmt.Fprintf(w, "dry run, nothing changed: %s\n", rep.GetMessage())
	case rep.GetEpoch() == 0:
		fmt.Fprintf(w, "%s (no change)\n", rep.GetMessage())
	default:
		fmt.Fprintf(w, "%s (epoch %d)\n", rep.GetMessage(), rep.GetEpoch())
	}
	if mv == nil || (!dryRun && rep.GetEpoch() == 0) {
		return nil
	}
	verb := "moved"
	if dryRun {
		verb = "would move"
	}
	pct := uint32(0)
	if mv.GetPgs() > 0 {
		pct = mv.GetMoved() * 100 / mv.GetPgs()
	}
	fmt.Fprintf(w, "%s %d of %d PGs (%d%%)", verb, mv.GetMoved(), mv.GetPgs(), pct)
	if mv.GetDegraded() > 0 {
		have := "have"
		if dryRun {
			have = "would have"
		}
		fmt.Fprintf(w, "; %d PGs %s fewer OSDs than their pool's size", mv.GetDegraded(), have)
	}
	fmt.Fprintln(w)
	if !dryRun || mv.GetMoved() == 0 {
		return nil
	}
	t := newTable("OSD", "GAINED>", "LOST>")
	for _, o := range mv.GetOsds() {
		t.add(fmt.Sprintf("osd.%d", o.GetOsd()), strconv.Itoa(int(o.GetGained())), strconv.Itoa(int(o.GetLost())))
	}
	return t.write(w)
}
