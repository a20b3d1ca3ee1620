package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
)

// Labels on containerd containers; they carry everything adoption needs.
const (
	labelManaged      = "gantry.dev/managed"
	labelPodUID       = "gantry.dev/pod-uid"
	labelPodName      = "gantry.dev/pod-name"
	labelPodNamespace = "gantry.dev/pod-namespace"
	labelContainer    = "gantry.dev/container-name"
	labelAttempt      = "gantry.dev/attempt"
	labelStartedAt    = "gantry.dev/started-at"
	labelFinishedAt   = "gantry.dev/finished-at"
	labelExitCode     = "gantry.dev/exit-code"
	labelReason       = "gantry.dev/reason"
)

var validID = regexp.MustCompile(`^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$`)

// containerID names a container attempt; long or odd names are hashed
// (labels keep the readable names).
func containerID(podUID, name string, attempt int) string {
	id := fmt.Sprintf("%s-%s-%d", podUID, name, attempt)
	if len(id) <= 76 && validID.MatchString(id) {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "g-" + hex.EncodeToString(sum[:20])
}

func podFilter(podUID string) string {
	return fmt.Sprintf("labels.%q==%q", labelPodUID, podUID)
}

func containerFilter(podUID, name string) string {
	return podFilter(podUID) + "," + fmt.Sprintf("labels.%q==%q", labelContainer, name)
}

func managedFilter() string {
	return fmt.Sprintf("labels.%q==%q", labelManaged, "true")
}

func attemptOf(labels map[string]string) int {
	n, _ := strconv.Atoi(labels[labelAttempt])
	return n
}
