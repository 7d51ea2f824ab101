// Command summary prints the outcome of a conformance run from ginkgo's JSON
// report: how many specs passed, failed and were skipped, the wall time, and
// the name of every failed spec.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/onsi/ginkgo/v2/types"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: summary REPORT.json SECONDS")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var reports []types.Report
	if err := json.Unmarshal(data, &reports); err != nil {
		fmt.Fprintln(os.Stderr, "read the report:", err)
		os.Exit(1)
	}
	secs, _ := strconv.Atoi(os.Args[2])
	counts := map[string]int{}
	var failed []string
	for _, r := range reports {
		for _, s := range r.SpecReports {
			if s.LeafNodeType != types.NodeTypeIt {
				continue
			}
			state := s.State.String()
			counts[state]++
			if s.State.Is(types.SpecStateFailureStates) {
				failed = append(failed, strings.Join(append(s.ContainerHierarchyTexts, s.LeafNodeText), " "))
			}
		}
	}
	sort.Strings(failed)
	fmt.Printf("conformance: %d passed, %d failed, %d skipped in %dm%02ds\n",
		counts["passed"], len(failed), counts["skipped"], secs/60, secs%60)
	for _, f := range failed {
		fmt.Println("FAILED:", f)
	}
}
