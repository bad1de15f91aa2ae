package ptlab.engine;

/**
 * Exhaustive exploration: a stateless depth-first search over the choices at every point,
 * re-running the scenario from its start for each interleaving (the machine is rebuilt; only
 * the search stack survives), bounded by a number of preemptions (Musuvathi and Qadeer's
 * iterative context bounding: most concurrency bugs need few), and pruned with sleep sets
 * (Godefroid): after the subtree where CPU a ran first has been explored, running b first and
 * then a is skipped when a's and b's next operations commute.
 *
 * <h2>Frames</h2>
 * Frame i describes the point before step i: the enabled choices, the choice taken, the choices
 * whose subtrees are done, the sleep set, the preemptions so far, and each choice's next
 * operation (its footprint). Arrays sized by the step limit, allocated once.
 *
 * <h2>Independence (dependency by location)</h2>
 * Two next operations commute when both are accesses to locations and the locations differ or
 * both accesses are loads. A location is a 4 KiB frame of physical memory (accesses by kernel
 * code or a walker; the frame rather than the word because {@code clear_page} and
 * {@code copy_page} announce one point for a whole frame) or one kernel shared variable
 * ({@code SharedLong}/{@code SharedRef}, by its location); a frame and a shared variable are
 * always different locations. Everything else — locks, IPIs, TLB flushes, frees, the frame
 * allocator, checker points, interrupt entries, injected events — is dependent on everything.
 *
 * <p>This is sound under the engine's rule ({@link Machine}'s class comment): the Java code a
 * step runs after its operation, up to the next point, touches only state private to its CPU
 * or guarded by a lock it holds (whose acquire and release are points dependent on
 * everything); whatever reads another CPU's state (a checker, a free) does so after a point
 * of its own that is dependent on everything.
 */
public final class Exhaustive implements Strategy {

    private final int bound;
    private final int maxSteps;
    private int choices;
    private int cpus;
    private final long[] enabled;
    private final int[] chosen;
    private final long[] done;
    private final long[] sleep;
    private final int[] preemptions;
    private int[] fpOp = new int[0];
    private long[] fpAddr = new long[0];
    /** Frames valid from the previous run: steps below this replay {@link #chosen}. */
    private int prefix;
    /** Frames of the current run. */
    private int depth;
    private long runs;
    private long pruned;

    public Exhaustive(int preemptionBound, int maxSteps) {
        this.bound = preemptionBound;
        this.maxSteps = maxSteps;
        this.enabled = new long[maxSteps + 1];
        this.chosen = new int[maxSteps + 1];
        this.done = new long[maxSteps + 1];
        this.sleep = new long[maxSteps + 1];
        this.preemptions = new int[maxSteps + 2];
    }

    /** Before each run. */
    public void begin(Machine m) {
        if (fpOp.length == 0) {
            cpus = m.cpuCount();
            choices = m.choiceCount();
            fpOp = new int[(maxSteps + 1) * choices];
            fpAddr = new long[(maxSteps + 1) * choices];
        }
        depth = 0;
        runs++;
    }

    public long runs() {
        return runs;
    }

    /** Runs abandoned because every enabled choice was asleep (an equivalent run was done). */
    public long pruned() {
        return pruned;
    }

    public void notePruned() {
        pruned++;
    }

    @Override
    public int choose(Machine m, long en, int step) {
        if (step < prefix) {
            if (en != enabled[step]) {
                throw new IllegalStateException("scenario is not deterministic: at step " + step + " enabled "
                        + Long.toBinaryString(en) + ", before " + Long.toBinaryString(enabled[step]));
            }
            preemptions[step + 1] = preemptions[step] + (isPreemption(step, chosen[step]) ? 1 : 0);
            depth = step + 1;
            return chosen[step];
        }
        // a new frame
        enabled[step] = en;
        done[step] = 0;
        int base = step * choices;
        for (long e = en; e != 0; e &= e - 1) {
            int k = Long.numberOfTrailingZeros(e);
            fpOp[base + k] = m.nextOp(k);
            fpAddr[base + k] = m.nextAddr(k);
        }
        sleep[step] = step == 0 ? 0 : inheritedSleep(step - 1) & en;
        long candidates = en & ~sleep[step];
        if (candidates == 0) {
            return -1;
        }
        int prev = step == 0 ? -1 : chosen[step - 1];
        int c = Strategies.defaultChoice(candidates, cpus, prev);
        chosen[step] = c;
        boolean preempt = isPreemption(step, c);
        if (preempt && preemptions[step] >= bound) {
            // the only candidates preempt and the budget is spent: try the cheapest anyway? no — prune
            return -1;
        }
        preemptions[step + 1] = preemptions[step] + (preempt ? 1 : 0);
        depth = step + 1;
        return c;
    }

    /** Sleep set handed from frame i to frame i+1: asleep or done at i, and commuting with what ran at i. */
    private long inheritedSleep(int i) {
        int t = chosen[i];
        long s = (sleep[i] | done[i]) & ~(1L << t);   // t is in neither: "1L >> t" is equivalent
        long out = 0;
        for (long e = s; e != 0; e &= e - 1) {
            int u = Long.numberOfTrailingZeros(e);
            // u is always enabled at i (sleep and done sets are masked by it): mutants of this test are equivalent
            if ((enabled[i] & (1L << u)) != 0 && independent(i, u, t)) {
                out |= 1L << u;
            }
        }
        return out;
    }

    private boolean independent(int frame, int a, int b) {
        if (a >= cpus || b >= cpus) {   // equivalent as "> cpus": an event's footprint is INTERRUPT, dependent anyway
            return false;
        }
        int base = frame * choices;
        return independentOps(fpOp[base + a], fpAddr[base + a], fpOp[base + b], fpAddr[base + b]);
    }

    /**
     * Whether two pending operations of different CPUs commute (class comment): both on
     * locations — physical memory or shared variables — that differ or are only read.
     */
    public static boolean independentOps(int oa, long addrA, int ob, long addrB) {
        boolean ma = Op.isMemory(oa);
        boolean mb = Op.isMemory(ob);
        boolean sa = Op.isShared(oa);
        boolean sb = Op.isShared(ob);
        if (!(ma || sa) || !(mb || sb)) {
            return false;                  // locks, IPIs, flushes, frees, checks, the allocator, interrupts
        }
        if (ma != mb) {
            return true;                   // a shared variable and physical memory: different locations
        }
        if (Op.isRead(oa) && Op.isRead(ob)) {
            return true;
        }
        return ma ? (addrA >>> 12) != (addrB >>> 12) : addrA != addrB;
    }

    /** Choosing {@code c} at frame i preempts the CPU that ran before, which could have gone on. */
    private boolean isPreemption(int i, int c) {
        if (i == 0) {
            return false;
        }
        int prev = chosen[i - 1];
        if (c == prev) {
            return false;
        }
        if (c >= cpus) {
            return true;   // an injected event always counts
        }
        return prev < cpus && (enabled[i] & (1L << prev)) != 0 && (sleep[i] & (1L << prev)) == 0;
    }

    /**
     * After a run: moves to the next interleaving (the deepest frame with an unexplored choice
     * that is awake and within the preemption bound). Returns false when the search is complete.
     */
    public boolean advance() {
        for (int i = depth - 1; i >= 0; i--) {
            done[i] |= 1L << chosen[i];
            long candidates = enabled[i] & ~done[i] & ~sleep[i];
            for (long e = candidates; e != 0; e &= e - 1) {
                int c = Long.numberOfTrailingZeros(e);
                if (preemptions[i] + (isPreemption(i, c) ? 1 : 0) <= bound) {
                    chosen[i] = c;
                    prefix = i + 1;
                    return true;
                }
            }
        }
        prefix = 0;
        return false;
    }
}
