package ptlab.study.vmallocsync;

import java.util.ArrayList;
import java.util.List;

import org.HdrHistogram.Histogram;

import ptlab.engine.CostTable;
import ptlab.hw.PagingMode;
import ptlab.kernel.VmSplit;
import ptlab.kernel.vmalloc.VmallocSyncStrategy;

/**
 * Study 1 (DESIGN.md, issues 6 and 10): the same workload under each vmalloc-sync strategy,
 * timed in model cycles. Each run boots a fresh kernel and runs the {@link Workload} - one
 * program per CPU - on the engine's timed mode ({@code engine/Machine}): the runnable CPU with
 * the lowest clock goes next, memory accesses are charged from the {@link CostTable} without
 * switches, and CPUs meet at the kernel's locks, shared variables, IPIs and interrupts, so
 * pgd_lock waits and holds, IPI round trips and nested NMIs are the engine's, not formulas.
 * See {@link Workload} for the workload, the costs and the checks.
 */
public final class VmallocSyncExperiment {

    /**
     * The workload; {@code split} is the x86-32 user/kernel split (null: 3G; must be null on
     * x86-64) and {@code topReserve} the x86-32 space above vmalloc (null: the kernel's own).
     */
    public record Params(PagingMode mode, int procs, int vmallocOps, int cpus, double nmiRate, long seed, long ramBytes,
                         VmSplit split, Long topReserve) {
        public Params {
            if (topReserve != null && mode.isLongMode()) {
                throw new IllegalArgumentException("--top-reserve applies to x86-32 and x86-32-pae only, not "
                        + mode.cliName());
            }
            if (split != null && mode.isLongMode()) {
                throw new IllegalArgumentException("--vmsplit applies to x86-32 and x86-32-pae only, not " + mode.cliName());
            }
            if (procs < 1) {
                throw new IllegalArgumentException("--procs must be at least 1, got " + procs);
            }
            if (vmallocOps < 1) {
                throw new IllegalArgumentException("--vmallocs must be at least 1, got " + vmallocOps);
            }
            if (cpus < 1 || cpus > 63) {
                throw new IllegalArgumentException("--cpus must be 1..63 (the engine's limit), got " + cpus);
            }
            if (!(nmiRate >= 0) || Double.isInfinite(nmiRate)) {
                throw new IllegalArgumentException("--nmi-rate must be a non-negative number, got " + nmiRate);
            }
        }

        public Params(PagingMode mode, int procs, int vmallocOps, int cpus, double nmiRate, long seed, long ramBytes) {
            this(mode, procs, vmallocOps, cpus, nmiRate, seed, ramBytes, null, null);
        }

        /** Enough RAM for 10,000 processes: 2 GiB on x86-64, 512 MiB (mail 001's machine) on x86-32. */
        public static long defaultRam(PagingMode mode) {
            return mode.isLongMode() ? 2L << 30 : 512L << 20;
        }

        public Params withProcs(int n) {
            return new Params(mode, n, vmallocOps, cpus, nmiRate, seed, ramBytes, split, topReserve);
        }
    }

    /** One strategy's results; latencies in model cycles. */
    public record Row(String strategy, boolean broken, long fullSyncs, long entriesCopied, long mmsWalked, long walkCycles,
                      long vmallocFaults, long faultsInNmi, long nestedNmiHazards, long nestedNmis,
                      long vmallocLatencyP50, long vmallocLatencyP99, long vmallocLatencyMax,
                      long forkLatencyP50, long forkLatencyP99, long switchOverhead, long pageTableBytes,
                      long bootTableBytes, long vmallocLimit, long vmallocFailures, long violations,
                      String firstViolation, long events, double wallSeconds, long modelCycles,
                      Histogram vmallocLatency, Histogram forkLatency,
                      long vmallocAttempts, long pgdListWalks, long pgdLockWaitCycles,
                      long pgdLockHoldCycles, long pgdLockHolds, long ipis, long nmis, long invariant4Checks) {

        public double eventsPerSecond() {
            return wallSeconds > 0 ? events / wallSeconds : 0;
        }
    }

    private VmallocSyncExperiment() {
    }

    /** Runs the workload of {@code p} under {@code strategy}. */
    public static Row run(Params p, VmallocSyncStrategy strategy, CostTable costs) {
        return new Workload(p, strategy, costs).run();
    }

    /** Every strategy in turn, each on a fresh kernel with the same seed. */
    public static List<Row> runAll(Params p, List<VmallocSyncStrategy> strategies, CostTable costs) {
        List<Row> rows = new ArrayList<>();
        for (VmallocSyncStrategy s : strategies) {
            rows.add(run(p, s, costs));
        }
        return rows;
    }
}
