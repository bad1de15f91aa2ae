package ptlab.study.vmallocsync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import ptlab.engine.CostTable;
import ptlab.engine.KernelBridge;
import ptlab.engine.Machine;
import ptlab.engine.Op;
import ptlab.engine.SimCpu;
import ptlab.hw.PagingMode;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.KernelVariant;
import ptlab.kernel.Task;
import ptlab.kernel.vmalloc.SwitchCheck;
import ptlab.kernel.vmalloc.Vmalloc;
import ptlab.kernel.vmalloc.VmallocSyncStrategy;
import ptlab.study.vmallocsync.VmallocSyncExperiment.Params;
import ptlab.study.vmallocsync.VmallocSyncExperiment.Row;

/** Study 1 on the engine's timed mode (issue 10, "one engine"): what the private loop did not do. */
@Timeout(value = 300, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class WorkloadEngineTest {

    /**
     * switch-check's IPI is delivered as an IPI: CPU1, running mm b, takes a CALL_FUNCTION
     * interrupt at one of its own points and its handler catches up the mm it has loaded, on
     * its clock; CPU0's vmalloc returns only after the acknowledgement, with b in sync. (The
     * private loop ran the handler on the sender and never interrupted CPU1.)
     */
    @Test
    void switchChecksIpiIsDeliveredAndHandledOnTheTargetCpu() {
        PagingMode mode = PagingMode.X86_32_PAE;
        VmallocSyncStrategy strategy = new SwitchCheck();
        KernelConfig cfg = strategy.configure(mode, KernelConfig.defaults().withCpus(2).withRam(64L << 20));
        KernelBridge bridge = new KernelBridge();
        Kernel k = new Kernel(mode, cfg, bridge, KernelVariant.CORRECT);
        Machine m = new Machine(k.memory(), mode, cfg.tlb(), CostTable.defaults(), new ptlab.check.Invariants());
        m.setMemoryPoints(false);
        bridge.install(k, m);
        Vmalloc v = new Vmalloc(k, strategy);
        Workload.deliverCrossCallsAsIpis(v.sync(), m);
        Task a = k.createProcess();
        Task b = k.fork(a);
        v.forked(b);
        v.switchTo(k.cpu(0), a);
        v.switchTo(k.cpu(1), b);
        List<String> interrupts = new ArrayList<>();
        m.setListener(new Machine.StepListener() {
            @Override
            public void beforeStep(Machine mm, long step, int choice, SimCpu cpu, int op, long addr) {
            }

            @Override
            public void afterStep(Machine mm, long step, SimCpu cpu, int op, long addr) {
            }

            @Override
            public void note(Machine mm, SimCpu cpu, String text) {
                if (text.startsWith("takes")) {
                    interrupts.add(cpu + " " + text);
                }
            }
        });
        boolean[] done = new boolean[1];
        long[] va = new long[1];
        boolean[] inSyncAtReturn = new boolean[1];
        KernelBridge.addKernelCpu(m, k.cpu(0), cpu -> {
            va[0] = v.vmalloc(k.cpu(0), 4L << 20);                 // new pmds: the generation grows
            m.unobserved(() -> inSyncAtReturn[0] = v.sync().inSync(b.mm(), va[0]));
            done[0] = true;
            cpu.publish(99);
        });
        KernelBridge.addKernelCpu(m, k.cpu(1), cpu -> {
            while (!done[0]) {
                cpu.charge(50);
                cpu.publish(7);                                    // where CPU1 takes interrupts
            }
        });
        assertEquals(Machine.Outcome.DONE, m.runTimed(1_000_000));
        assertTrue(va[0] != 0, "vmalloc succeeded");
        assertEquals(1, v.sync().ipis(), "one IPI to the one other CPU");
        assertEquals(List.of("CPU1 takes CALL_FUNCTION from CPU0"), interrupts);
        assertTrue(inSyncAtReturn[0], "CPU1's handler brought mm b up to date before vmalloc returned");
        CostTable c = m.costs();
        assertTrue(m.cpu(0).clock() >= c.cost(Op.IPI_SEND) + c.cost(Op.INTERRUPT) + c.cost(Op.IPI_ACK),
                "the sender waited for the round trip: " + m.cpu(0).clock());
    }

    /**
     * A vmalloc that fails is a failure, not a latency, on the engine too; and the run's own
     * invariant-4 checks are counted (a correct strategy's clean row is not vacuous).
     */
    @Test
    void failuresAreCountedAndChecksRan() {
        Params p = new Params(PagingMode.X86_32, 200, 3000, 4, 50, 3, Params.defaultRam(PagingMode.X86_32));
        Row r = VmallocSyncExperiment.run(p, VmallocSyncStrategy.byName("shared-top"), CostTable.defaults());
        assertEquals(r.vmallocAttempts() - r.vmallocFailures(), r.vmallocLatency().getTotalCount());
        assertTrue(r.vmallocFailures() > r.vmallocAttempts() / 2, r.vmallocFailures() + " of " + r.vmallocAttempts());
        assertEquals(0, r.violations(), r.firstViolation());
        assertTrue(r.invariant4Checks() > 1000, "kernel reads checked: " + r.invariant4Checks());
        assertTrue(r.pgdLockHolds() > 0 && r.pgdLockHoldCycles() > 0, "forks and exits held pgd_lock, measured");
    }
}
