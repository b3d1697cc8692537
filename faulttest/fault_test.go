package faulttest

import (
	"testing"
	"time"

	"github.com/smsgw/smsgw/simulator"
)

// The fault matrix (docs/RELIABILITY.md). Each test runs a fleet of two
// gateways and two bridges on a three-node NATS cluster, a bounded load
// with receipts and replies, one fault in the middle, and ends by checking
// at the webhook receiver that nothing accepted was lost. They do not run
// in parallel: the machine has two cores and each test runs seven
// processes.

var (
	loadN    = scale(1000, 100_000)
	loadRate = scale(100.0, 400.0)
)

// sleep waits d; the fault schedule of a test.
func sleep(d time.Duration) { time.Sleep(d) }

// 1. kill -9 a gateway process mid-load and start it again.
func TestFaultKillGateway(t *testing.T) {
	runScenario(t, scenario{
		name: "kill-gateway", n: loadN, rate: loadRate, at: 0.3,
		settle: scale(2*time.Minute, 10*time.Minute),
		fault: func(t testing.TB, st *stack) {
			st.gateways[0].kill()
			sleep(2 * time.Second)
			st.gateways[0].start()
		},
		noDupDeliveries: true,
	})
}

// 2. kill -9 a bridge process mid-load and start it again.
func TestFaultKillBridge(t *testing.T) {
	runScenario(t, scenario{
		name: "kill-bridge", n: loadN, rate: loadRate, at: 0.3,
		settle: scale(2*time.Minute, 10*time.Minute),
		fault: func(t testing.TB, st *stack) {
			// Deliveries come in bursts (batches, then their receipts):
			// kill inside one.
			for deadline := time.Now().Add(10 * time.Second); st.recv.inflight.Load() < 8 && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			t.Logf("killing bridge-1 with %d deliveries in flight at the receiver (both bridges)", st.recv.inflight.Load())
			st.bridges[0].kill()
			sleep(2 * time.Second)
			st.bridges[0].start()
		},
		noSubmitDups: true,
		// A slow receiver keeps about 20 deliveries in flight, so the
		// killed bridge certainly dies holding some (at the soak rate,
		// 25 ms does that and keeps up with 840 events/s).
		settings: func(s *settings) { s.receiverDelay = scale(100*time.Millisecond, 25*time.Millisecond) },
	})
}

// 3. stop one NATS node of three mid-load, then bring it back.
func TestFaultNATSNodeDown(t *testing.T) {
	runScenario(t, scenario{
		name: "nats-node-down", n: loadN, rate: loadRate, at: 0.3,
		settle: scale(2*time.Minute, 10*time.Minute),
		fault: func(t testing.TB, st *stack) {
			st.nats.nodes[1].stop(10 * time.Second)
			sleep(scale(5*time.Second, 60*time.Second))
			st.nats.nodes[1].start()
		},
	})
}

// 4. the simulator drops every SMPP connection twice mid-load.
func TestFaultSMPPDrops(t *testing.T) {
	runScenario(t, scenario{
		name: "smpp-drops", n: loadN, rate: loadRate, at: 0.3,
		settle: scale(2*time.Minute, 10*time.Minute),
		fault: func(t testing.TB, st *stack) {
			st.sim.DropConnections()
			sleep(scale(3*time.Second, 20*time.Second))
			st.sim.DropConnections()
		},
		noDupDeliveries: true,
	})
}

// 5. the webhook receiver answers 503 for a minute (10 s in make test),
// then recovers.
func TestFaultWebhook503(t *testing.T) {
	d := scale(10*time.Second, time.Minute)
	runScenario(t, scenario{
		name: "webhook-503", n: loadN, rate: loadRate, at: 0.3,
		settle: scale(2*time.Minute, 10*time.Minute),
		fault: func(t testing.TB, st *stack) {
			st.recv.refuseFor(d)
			sleep(d)
		},
		noSubmitDups: true,
	})
}

// 6. the SMSC stops answering submit_sm (the window fills) for 30 s
// (10 s in make test).
func TestFaultSMSCSilent(t *testing.T) {
	d := scale(10*time.Second, 30*time.Second)
	runScenario(t, scenario{
		name: "smsc-silent", n: loadN, rate: loadRate, at: 0.3,
		settle: scale(2*time.Minute, 10*time.Minute),
		fault: func(t testing.TB, st *stack) {
			st.sim.SetFaults(simulator.Faults{NeverAnswerSubmit: true})
			sleep(d)
			st.sim.SetFaults(simulator.Faults{})
		},
		noDupDeliveries: true,
	})
}
