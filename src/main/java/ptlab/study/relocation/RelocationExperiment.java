package ptlab.study.relocation;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

import ptlab.engine.CostTable;
import ptlab.engine.Explorer;
import ptlab.engine.KernelBridge;
import ptlab.engine.Machine;
import ptlab.engine.NodeDistance;
import ptlab.engine.SimCpu;
import ptlab.hw.PagingMode;
import ptlab.kernel.Cpu;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.Pgtable;
import ptlab.kernel.Task;
import ptlab.tools.Scenarios;

/**
 * Study 2's timed runs: when does moving (or replicating) a process's page tables pay?
 *
 * <pre>
 *   setup      the process's threads first-touch their data on their own CPUs; then every page
 *              table is moved to node 0 (the migrator, outside any run): threads near their
 *              data, walks remote — the state of a process the scheduler moved away
 *   before     timed run: each thread does its workload (gups: random read-modify-write over
 *              the whole array; scan: sequential, 64 bytes a step)
 *   migrate    timed run: the protocol moves every table to the threads' node (replicate: builds
 *              a replica there) on the first thread's CPU while the other threads keep working
 *   after      timed run: the same workload again
 * </pre>
 *
 * Every run is {@link Machine#runTimed} (lowest model clock next), with memory accesses charged
 * by {@link NodeDistance}: a walk reference to a remote table costs distance/10 times a local
 * one. Nothing about the speed-up is written in: it is TLB misses × walk references × distance.
 * Correctness comes from the explorer on the {@code relocation-dirty} scenario of the same mode.
 */
public final class RelocationExperiment {

    public enum Workload { GUPS, SCAN }

    /** Where the threads run: all on the last node (the process was moved there), or spread over every node. */
    public enum Placement { NODE, SPREAD }

    /**
     * @param mode      paging mode
     * @param cpus      CPUs of the machine (threads: those of the last node, or all)
     * @param nodes     NUMA nodes (CPU i is on node i * nodes / cpus)
     * @param workload  gups or scan
     * @param pages     data pages of the process (4 KiB each)
     * @param accesses  memory accesses per thread per timed phase
     * @param remote    SLIT distance between different nodes (local is 10)
     * @param seed      workload and exploration seed
     * @param explore   exploration strategy for the correctness column (random, pct, exhaustive; null: none)
     * @param schedules schedules to explore
     */
    public record Params(PagingMode mode, int cpus, int nodes, Workload workload, int pages, int accesses, int remote,
                         long seed, String explore, long schedules) {
        public Params {
            if (nodes < 2) {
                throw new IllegalArgumentException("relocation needs at least 2 NUMA nodes, got " + nodes);
            }
            if (cpus < nodes || cpus > 64) {
                throw new IllegalArgumentException("--cpus must be at least --nodes (" + nodes + ") and at most 64, got "
                        + cpus);
            }
            if (pages < 1 || accesses < 1) {
                throw new IllegalArgumentException("pages and accesses must be positive");
            }
        }

        public Params withRemote(int r) {
            return new Params(mode, cpus, nodes, workload, pages, accesses, r, seed, explore, schedules);
        }

        public Params withAccesses(int a) {
            return new Params(mode, cpus, nodes, workload, pages, a, remote, seed, explore, schedules);
        }

        long ramBytes() {
            long need = (long) pages * 4096 * 2 + (64L << 20);
            long ram = 128L << 20;
            while (ram < need) {
                ram <<= 1;
            }
            return ram;
        }
    }

    /** One timed phase's measurements over the thread CPUs. */
    public record Phase(long runCycles, long tlbMisses, long walkCycles) {
        public double walkCyclesPerMiss() {
            return tlbMisses == 0 ? 0 : walkCycles / (double) tlbMisses;
        }
    }

    /** One row: a protocol with a thread placement. */
    public record Row(String protocol, String placement, boolean broken, long violations, String firstViolation,
                      long schedules, long migrationCycles, long ipis, long pagesMoved, long refused,
                      long extraBytes, Phase before, Phase after, double remoteRatio) {
        public double speedup() {
            return after.runCycles() == 0 ? 0 : before.runCycles() / (double) after.runCycles();
        }

        public double walkSpeedup() {
            return after.walkCyclesPerMiss() == 0 ? 0 : before.walkCyclesPerMiss() / after.walkCyclesPerMiss();
        }
    }

    private RelocationExperiment() {
    }

    /** The rows for {@code protocols} × both placements. {@code stop} is polled between runs (Ctrl-C). */
    public static List<Row> run(Params p, List<String> protocols, CostTable costs, BooleanSupplier stop,
                                java.util.function.Consumer<String> progress) {
        List<Row> rows = new ArrayList<>();
        for (Placement placement : Placement.values()) {
            for (String name : protocols) {
                if (stop.getAsBoolean()) {
                    return rows;
                }
                progress.accept(name + " " + placement.name().toLowerCase());
                rows.add(runOne(p, RelocationProtocol.byName(name), placement, costs, stop));
            }
        }
        return rows;
    }

    /** One protocol, one placement: explore, then before / migrate / after in timed mode. */
    public static Row runOne(Params p, RelocationProtocol protocol, Placement placement, CostTable costs,
                             BooleanSupplier stop) {
        long violations = 0;
        String first = null;
        long schedules = 0;
        if (p.explore() != null && placement == Placement.NODE) {
            int cpus = p.explore().equals("exhaustive") ? 2 : 4;
            Explorer.Summary s = Explorer.explore(Scenarios.byName("relocation-dirty"),
                    RelocationDirty.variantName(protocol.name(), p.mode().cliName(), cpus),
                    Explorer.Settings.of(p.explore(), p.seed(), p.schedules(), p.explore().equals("pct") ? 3 : 2), stop,
                    null);
            schedules = s.schedules();
            if (s.violation() != null) {
                violations = 1;
                first = s.violation().describe();
            }
        }
        World w = new World(p, placement, costs);
        Phase before = w.phase(p.accesses(), null);
        long ipisBefore = w.k.tlb().ipisSent();
        Mover mover = new Mover(w, protocol);
        w.phase(Math.max(1, p.accesses() / 4), mover);
        long ipis = w.k.tlb().ipisSent() - ipisBefore + mover.ipis;
        Phase after = w.phase(p.accesses(), null);
        long extra = protocol instanceof Replicate r && r.replicas() != null ? r.replicas().pages() * 4096L : 0;
        return new Row(protocol.name(), placement.name().toLowerCase(), protocol.broken(), violations, first, schedules,
                mover.cycles, ipis, mover.pagesMoved, mover.refused, extra, before, after,
                p.remote() / (double) NodeDistance.LOCAL);
    }

    /** Run time after migration for each remote distance: the plot's lines (placement NODE). */
    public static double[][] ratioSweep(Params p, List<String> protocols, int[] remotes, CostTable costs,
                                        BooleanSupplier stop) {
        double[][] y = new double[protocols.size() + 1][remotes.length];
        for (int j = 0; j < remotes.length; j++) {
            Params q = p.withRemote(remotes[j]);
            for (int i = 0; i < protocols.size() && !stop.getAsBoolean(); i++) {
                Row r = runOne(new Params(q.mode(), q.cpus(), q.nodes(), q.workload(), q.pages(), q.accesses(),
                        q.remote(), q.seed(), null, 0), RelocationProtocol.byName(protocols.get(i)), Placement.NODE,
                        costs, stop);
                y[i][j] = r.after().runCycles();
                y[protocols.size()][j] = r.before().runCycles();
            }
        }
        return y;
    }

    // ---- the simulated world ---------------------------------------------------------------------

    /** The kernel, the process and its threads, reused by the three phases. */
    static final class World {
        final Params p;
        final Kernel k;
        final CostTable costs;
        /** The kernel's interleaving: it moves to each phase's machine. */
        final KernelBridge bridge = new KernelBridge();
        final Task main;
        final Task[] tasks;
        final boolean[] thread;          // kernel CPU i runs a thread
        final int target;                // node the tables go to
        final long base;
        long phaseSeed;

        World(Params p, Placement placement, CostTable costs) {
            this.p = p;
            this.costs = costs;
            k = new Kernel(p.mode(), KernelConfig.defaults().withRam(p.ramBytes()).withCpus(p.cpus()).withNodes(p.nodes()),
                    bridge, ptlab.kernel.KernelVariant.CORRECT);
            target = p.nodes() - 1;
            thread = new boolean[p.cpus()];
            for (int i = 0; i < p.cpus(); i++) {
                thread[i] = placement == Placement.SPREAD || k.cpu(i).node() == target;
            }
            main = k.createProcess();
            tasks = new Task[p.cpus()];
            boolean firstDone = false;
            for (int i = 0; i < p.cpus(); i++) {
                if (thread[i]) {
                    tasks[i] = firstDone ? k.cloneThread(main) : main;
                    firstDone = true;
                    k.switchTo(k.cpu(i), tasks[i]);
                }
            }
            base = k.mmap(main, 0, (long) p.pages() * 4096, Kernel.PROT_READ | Kernel.PROT_WRITE,
                    Kernel.MAP_PRIVATE | Kernel.MAP_ANONYMOUS);
            if (base < 0) {
                throw new TooLarge("cannot map " + p.pages() + " pages on " + p.mode().cliName() + " (lower --pages)");
            }
            // first touch: page i by thread i mod T, so data sits on the threads' nodes
            int[] ts = threadCpus();
            for (int i = 0; i < p.pages(); i++) {
                Cpu c = k.cpu(ts[i % ts.length]);
                if (!k.writeUserLong(c, base + i * 4096L, i)) {
                    throw new TooLarge("out of simulated memory faulting in page " + i + " (lower --pages)");
                }
            }
            // the process was moved away from its tables: put every table on node 0
            moveAll(new SafeMerge(), new PageTableMigrator(k, main.mm(), k.cpu(ts[0]), null), 0);
        }

        int[] threadCpus() {
            int n = 0;
            for (boolean b : thread) {
                n += b ? 1 : 0;
            }
            int[] r = new int[n];
            for (int i = 0, j = 0; i < thread.length; i++) {
                if (thread[i]) {
                    r[j++] = i;
                }
            }
            return r;
        }

        /** Moves every movable table of the data range (ptes first, then up, then the pgd) to {@code node}. */
        long[] moveAll(RelocationProtocol protocol, PageTableMigrator m, int node) {
            long refused = 0;
            if (protocol instanceof Replicate) {
                for (int n = 0; n < p.nodes(); n++) {
                    if (n != k.memory().nodeOf(main.mm().pgd()) && hasThreadOn(n)) {
                        MoveResult r = protocol.move(m, Pgtable.PGD, base, n);
                        refused += r.moved() ? 0 : 1;
                    }
                }
                return new long[]{refused};
            }
            Pgtable pt = k.pgtable();
            long end = base + (long) p.pages() * 4096;
            for (int level = Pgtable.PTE; level <= Pgtable.PGD; level++) {
                if (pt.folded(level)) {
                    continue;                 // no table of its own: the folding makes 2/3/4-level paging fall out
                }
                if (m.refusal(level, base) != null) {
                    refused++;
                    continue;
                }
                long step = level == Pgtable.PGD ? Long.MAX_VALUE : pt.size(level + 1);
                for (long va = base & -step; Long.compareUnsigned(va, end) < 0; va += step) {
                    MoveResult r = protocol.move(m, level, Math.max(va, base), node);
                    if (r.status() == MoveResult.Status.REFUSED) {
                        refused++;
                    }
                    if (step == Long.MAX_VALUE || va + step < va) {
                        break;
                    }
                }
            }
            return new long[]{refused};
        }

        boolean hasThreadOn(int node) {
            for (int i = 0; i < thread.length; i++) {
                if (thread[i] && k.cpu(i).node() == node) {
                    return true;
                }
            }
            return false;
        }

        /** One timed run: every thread CPU does {@code accesses} accesses; {@code mover} runs first on the first one. */
        Phase phase(int accesses, Mover mover) {
            Machine m = new Machine(k.memory(), p.mode(), k.config().tlb(), costs, new ptlab.check.Invariants());
            bridge.install(k, m);
            int[] nodes = new int[p.cpus()];
            for (int i = 0; i < p.cpus(); i++) {
                nodes[i] = k.cpu(i).node();
            }
            m.setNuma(nodes, NodeDistance.uniform(p.nodes(), p.remote()));
            m.setRecordWrites(false);   // thousands of pages: correctness is the explorer's column
            int[] ts = threadCpus();
            long[] walks0 = new long[p.cpus()];
            for (int i = 0; i < p.cpus(); i++) {
                walks0[i] = k.cpu(i).mmu().walks();
                if (!thread[i]) {
                    KernelBridge.addKernelCpu(m, k.cpu(i), cpu -> { });
                    continue;
                }
                long seed = p.seed() * 1_000_003L + (phaseSeed++) * 7919L + i;
                boolean first = i == ts[0];
                KernelBridge.addKernelCpu(m, k.cpu(i), cpu -> {
                    if (first && mover != null) {
                        mover.run(cpu);
                    }
                    work(cpu, accesses, seed);
                });
            }
            Machine.Outcome o = m.runTimed(Integer.MAX_VALUE);
            k.memory().setAccessHook(null);
            if (o != Machine.Outcome.DONE) {
                throw new IllegalStateException("timed run ended " + o + (m.violation() != null
                        ? ": " + m.violation().describe() : ""));
            }
            long run = 0;
            long misses = 0;
            long walkCycles = 0;
            for (int i : ts) {
                SimCpu c = m.cpu(i);
                run = Math.max(run, c.clock());
                misses += k.cpu(i).mmu().walks() - walks0[i];
                walkCycles += c.walkCycles();
            }
            return new Phase(run, misses, walkCycles);
        }

        /** The workload of one thread: gups (random read-modify-write) or scan (64-byte strides). */
        void work(SimCpu cpu, int accesses, long seed) {
            long words = (long) p.pages() * 512;
            long x = seed | 1;
            long pos = (seed % p.pages()) * 512;
            for (int a = 0; a < accesses; a += 2) {
                long idx;
                if (p.workload() == Workload.GUPS) {
                    x ^= x << 13;
                    x ^= x >>> 7;
                    x ^= x << 17;
                    idx = Long.remainderUnsigned(x, words);
                } else {
                    pos = (pos + 8) % words;
                    idx = pos;
                }
                long va = base + idx * 8;
                if (!KernelBridge.userAccess(cpu, false, va, 0) || !KernelBridge.userAccess(cpu, true, va, a)) {
                    throw new IllegalStateException("CPU" + cpu.id() + ": access to 0x" + Long.toHexString(va) + " failed");
                }
            }
        }
    }

    /** The migration, run on a thread's CPU inside the migrate phase; records its cost. */
    static final class Mover {
        final World w;
        final RelocationProtocol protocol;
        long cycles;
        long pagesMoved;
        long refused;
        long ipis;

        Mover(World w, RelocationProtocol protocol) {
            this.w = w;
            this.protocol = protocol;
        }

        void run(SimCpu cpu) {
            long t0 = cpu.clock();
            PageTableMigrator m = new PageTableMigrator(w.k, w.main.mm(), w.k.cpu(cpu.id()), cpu);
            refused = w.moveAll(protocol, m, w.target)[0];
            pagesMoved = m.pagesMoved();
            ipis = m.ipis();
            cycles = cpu.clock() - t0;
        }
    }

    /**
     * The workload does not fit the simulated machine: a limit of the run the user asked for, not
     * a bug (the CLI reports it as bad input, exit 2).
     */
    public static final class TooLarge extends RuntimeException {
        TooLarge(String message) {
            super(message);
        }
    }
}
