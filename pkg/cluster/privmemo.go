package cluster

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/edgectl/edgectl/internal/runtime"
)

// A create tries the first node with --privileged and falls back to an
// explicit capability set when the engine refuses it (Docker on a host
// without CAP_SYS_RESOURCE). The refused attempt costs ~0.8 s of every
// create, so a refusal is remembered per engine, for a day, in the user's
// cache: a later create starts its nodes unprivileged at once.

// privilegeMemoTTL is how long a refusal is remembered: an engine that
// allows privilege again is found within a day.
const privilegeMemoTTL = 24 * time.Hour

// engineKey names an engine and what decides its answer.
func engineKey(info runtime.Info) string {
	return fmt.Sprintf("%s %s cgroup%s %s rootless=%t", info.Name, info.Version, info.CgroupVersion, info.CgroupDriver, info.Rootless)
}

// privilegeRefused tells whether the engine refused --privileged within
// the last privilegeMemoTTL.
func (p *Provider) privilegeRefused(info runtime.Info) bool {
	if p.memoFile == "" {
		return false
	}
	memo := readMemo(p.memoFile)
	at, ok := memo[engineKey(info)]
	return ok && time.Since(at) < privilegeMemoTTL
}

// rememberPrivilege records that the engine refused (or allowed)
// --privileged. A cache that cannot be written only costs time.
func (p *Provider) rememberPrivilege(info runtime.Info, refused bool) {
	if p.memoFile == "" {
		return
	}
	memo := readMemo(p.memoFile)
	key := engineKey(info)
	if _, had := memo[key]; !refused && !had {
		return // nothing to forget
	}
	if refused {
		memo[key] = time.Now()
	} else {
		delete(memo, key)
	}
	data, err := json.Marshal(memo)
	if err != nil {
		return
	}
	if os.MkdirAll(filepath.Dir(p.memoFile), 0o755) != nil {
		return
	}
	tmp := p.memoFile + ".tmp"
	if os.WriteFile(tmp, data, 0o644) == nil {
		_ = os.Rename(tmp, p.memoFile)
	}
}

// readMemo reads the engines' refusals: engine key to the time of the
// refusal. A missing or damaged file is an empty memo.
func readMemo(file string) map[string]time.Time {
	memo := map[string]time.Time{}
	data, err := os.ReadFile(file)
	if err == nil {
		_ = json.Unmarshal(data, &memo)
	}
	return memo
}

// defaultMemoFile is where NewProvider keeps the memo.
func defaultMemoFile() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "edgectl", "engines-privileged.json")
}
