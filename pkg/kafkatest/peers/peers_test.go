package peers

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPython checks the pinned packages import, librdkafka included.
func TestPython(t *testing.T) {
	py := Python(t)
	out, err := exec.Command(py, "-c", "import fastavro, confluent_kafka; print(fastavro.__version__, confluent_kafka.__version__, confluent_kafka.libversion()[0])").CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", py, err, out)
	}
	got := strings.Fields(string(out))
	if len(got) != 3 || got[0] != "1.13.1" || got[1] != "2.16.1" {
		t.Fatalf("versions = %q, want fastavro 1.13.1 and confluent-kafka 2.16.1 (with its librdkafka)", out)
	}
	t.Logf("fastavro %s, confluent-kafka %s, librdkafka %s", got[0], got[1], got[2])
}
