package bench

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"text/tabwriter"
)

// PrintTable writes the report as a table: each figure's median, min and
// max over the runs, and its goal.
func PrintTable(w io.Writer, r *Report) error {
	fmt.Fprintf(w, "%s, Kubernetes %s, node image %s, %s, %d CPUs, %d run(s)\n\n", r.Edgectl, r.Kubernetes, r.Image, r.Engine, r.CPUs, r.Runs)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tMEDIAN\tMIN\tMAX\tGOAL\t")
	for _, f := range r.Figures {
		if len(f.Runs) == 0 {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t%s\t%s\n", f.Name, goal(f), f.Note)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Name, value(f.Median, f.Unit), value(f.Min, f.Unit), value(f.Max, f.Unit), goal(f), mark(f))
	}
	return tw.Flush()
}

func value(v float64, unit string) string {
	if unit == "MB" {
		return fmt.Sprintf("%.0f %s", v, unit)
	}
	return fmt.Sprintf("%.2f %s", v, unit)
}

func goal(f Figure) string {
	if f.Goal == 0 {
		return ""
	}
	return fmt.Sprintf("≤ %g %s", f.Goal, f.Unit)
}

func mark(f Figure) string {
	if f.Goal > 0 && len(f.Runs) > 0 && f.Median > f.Goal {
		return "missed"
	}
	return ""
}

// Markdown is the report as the table of docs/benchmarks.md.
func Markdown(r *Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "`make bench` (`edgectl bench --runs %d`), %s: %s, Kubernetes %s, node image %s, %s, %d CPUs.\n\n",
		r.Runs, r.Date[:10], r.Edgectl, r.Kubernetes, r.Image, r.Engine, r.CPUs)
	b.WriteString("| figure | median | min – max | goal |\n|---|---|---|---|\n")
	for _, f := range r.Figures {
		if len(f.Runs) == 0 {
			fmt.Fprintf(&b, "| %s | – | %s | %s |\n", f.Name, f.Note, goal(f))
			continue
		}
		med := "**" + value(f.Median, f.Unit) + "**"
		if m := mark(f); m != "" {
			med += " (" + m + ")"
		}
		fmt.Fprintf(&b, "| %s | %s | %s – %s | %s |\n", f.Name, med, value(f.Min, f.Unit), value(f.Max, f.Unit), goal(f))
	}
	return b.String()
}

// Compare lists the figures of r that are worse than their goal, or than
// the same figure of base by more than the noise the runs show (the wider
// spread, max - min, of the two).
func Compare(r, base *Report) []string {
	var worse []string
	for _, f := range r.Figures {
		if len(f.Runs) == 0 {
			continue
		}
		if f.Goal > 0 && f.Median > f.Goal {
			worse = append(worse, fmt.Sprintf("%s: %s misses its goal (%s)", f.Name, value(f.Median, f.Unit), goal(f)))
		}
		if base == nil {
			continue
		}
		b := base.Figure(f.Key)
		if b == nil || len(b.Runs) == 0 {
			continue
		}
		noise := math.Max(f.Max-f.Min, b.Max-b.Min)
		if d := f.Median - b.Median; d > noise && d > 0.01*b.Median {
			worse = append(worse, fmt.Sprintf("%s: %s, worse than the recorded %s by %s (noise %s)",
				f.Name, value(f.Median, f.Unit), value(b.Median, b.Unit), value(d, f.Unit), value(noise, f.Unit)))
		}
	}
	return worse
}

// Markers bound the section of a Markdown file that WriteMarkdown
// replaces.
const (
	MarkBegin = "<!-- edgectl bench: begin (make bench writes this) -->"
	MarkEnd   = "<!-- edgectl bench: end -->"
)

// WriteMarkdown replaces the section between MarkBegin and MarkEnd of file
// with the report's table.
func WriteMarkdown(file string, r *Report) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	i, j := bytes.Index(data, []byte(MarkBegin)), bytes.Index(data, []byte(MarkEnd))
	if i < 0 || j < i {
		return fmt.Errorf("%s has no section between %q and %q to write the bench into", file, MarkBegin, MarkEnd)
	}
	var out bytes.Buffer
	out.Write(data[:i+len(MarkBegin)])
	out.WriteString("\n" + Markdown(r))
	out.Write(data[j:])
	return os.WriteFile(file, out.Bytes(), 0o644)
}
