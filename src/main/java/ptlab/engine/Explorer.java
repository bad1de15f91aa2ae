package ptlab.engine;

import java.util.Arrays;
import java.util.function.BooleanSupplier;
import java.util.function.LongConsumer;

/**
 * Searches the interleavings of a {@link Scenario} for invariant violations with a
 * {@link Strategy}; on the first one, shrinks its schedule (fewer steps, fewer preemptions).
 *
 * <p>Memory per schedule is constant: each schedule builds a fresh machine (garbage once the
 * schedule ends) and records its choices into one reused trail; nothing accumulates across
 * schedules but counters.
 */
public final class Explorer {

    public static final int DEFAULT_MAX_STEPS = 100_000;

    /** How to explore. {@code shardIndex} is 0-based; schedules i with i % shardCount == shardIndex are ours. */
    public record Settings(String strategy, long seed, long schedules, int maxDepth, int maxSteps, int shardIndex,
                           int shardCount) {
        public Settings {
            if (!strategy.equals("random") && !strategy.equals("pct") && !strategy.equals("exhaustive")) {
                throw new IllegalArgumentException("--strategy must be random, pct or exhaustive, not '" + strategy + "'");
            }
            if (schedules < 1) {
                throw new IllegalArgumentException("--schedules must be at least 1, got " + schedules);
            }
            if (maxDepth < 0 || (strategy.equals("pct") && maxDepth < 1)) {
                throw new IllegalArgumentException("--max-depth must be at least " + (strategy.equals("pct") ? 1 : 0)
                        + ", got " + maxDepth);
            }
            if (maxSteps < 1) {
                throw new IllegalArgumentException("step limit must be at least 1, got " + maxSteps);
            }
            if (shardCount < 1 || shardIndex < 0 || shardIndex >= shardCount) {
                throw new IllegalArgumentException("--shard K/N needs 1 <= K <= N");
            }
            if (shardCount > 1 && strategy.equals("exhaustive")) {
                throw new IllegalArgumentException("--shard splits the seed space of random and pct; exhaustive "
                        + "search is one depth-first traversal");
            }
        }

        public static Settings of(String strategy, long seed, long schedules, int maxDepth) {
            return new Settings(strategy, seed, schedules, maxDepth, DEFAULT_MAX_STEPS, 0, 1);
        }
    }

    /** What an exploration did. {@code schedule} is the shrunk violating schedule, or null. */
    public record Summary(String scenario, String variant, String strategy, long seed, long schedules, long steps,
                          double seconds, Violation violation, Schedule schedule, boolean exhausted, long pruned,
                          long truncated, boolean interrupted, long[] checks, long[] checkedSchedules) {

        /** Evaluations of invariant {@code i}'s check over all schedules. */
        public long checks(int i) {
            return checks[i];
        }

        /** Schedules in which invariant {@code i}'s check ran at least once. */
        public long checkedSchedules(int i) {
            return checkedSchedules[i];
        }

        public double schedulesPerSecond() {
            // ">= 0" is equivalent in practice: an exploration builds at least one machine, never 0 ns
            return seconds > 0 ? schedules / seconds : 0;
        }

        public double stepsPerSecond() {
            // ">= 0" equivalent in practice, as above
            return seconds > 0 ? steps / seconds : 0;
        }
    }

    private Explorer() {
    }

    public static Summary explore(Scenario sc, String variantName, Settings s, BooleanSupplier stop,
                                  LongConsumer progress) {
        String variant = sc.variant(variantName).name();
        int[] trail = new int[s.maxSteps()];
        long[] checks = new long[Violation.INVARIANTS + 1];
        long[] checkedSchedules = new long[Violation.INVARIANTS + 1];
        long schedules = 0;
        long steps = 0;
        long truncated = 0;
        boolean exhausted = false;
        boolean interrupted = false;
        Violation found = null;
        long foundIndex = -1;
        long foundSeed = 0;
        int foundLength = 0;
        long t0 = System.nanoTime();

        Strategies.Random random = new Strategies.Random();
        Strategies.Pct pct = s.strategy().equals("pct") ? new Strategies.Pct(s.maxDepth()) : null;
        Exhaustive dfs = s.strategy().equals("exhaustive") ? new Exhaustive(s.maxDepth(), s.maxSteps()) : null;
        // PCT draws its change points from the first k steps. k is the length of one default run,
        // measured once and never updated from the runs that follow: schedule i must be a function
        // of (seed, i) alone, or N shards would not cover exactly the schedules of one job.
        java.util.function.Supplier<Machine> machines = sc.machines(variant);   // this search's: may keep a boot image
        int k = pct != null ? pctWindow(machines.get(), trail, s.maxSteps()) : 0;

        for (long i = s.shardIndex(); i < s.schedules(); i += s.shardCount()) {
            if (stop.getAsBoolean()) {
                interrupted = true;
                break;
            }
            Machine m = machines.get();
            long seed = Strategies.scheduleSeed(s.seed(), i);
            Strategy strategy;
            if (dfs != null) {
                dfs.begin(m);
                strategy = dfs;
            } else if (pct != null) {
                pct.reset(seed, m.choiceCount(), k);
                strategy = pct;
            } else {
                random.reset(seed);
                strategy = random;
            }
            Machine.Outcome o = m.run(strategy, trail, s.maxSteps());
            schedules++;
            steps += m.steps();
            addChecks(m, checks, checkedSchedules);
            if (o == Machine.Outcome.STEP_LIMIT) {
                truncated++;
            } else if (o == Machine.Outcome.PRUNED) {
                dfs.notePruned();
            } else if (o == Machine.Outcome.VIOLATION) {
                found = m.violation();
                foundIndex = i;
                foundSeed = seed;
                foundLength = (int) m.steps();
                break;
            }
            if (progress != null && (schedules & 63) == 0) {
                progress.accept(schedules);
            }
            if (dfs != null && !dfs.advance()) {
                exhausted = true;
                break;
            }
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        Schedule schedule = null;
        if (found != null) {
            schedule = shrink(sc, variant, Arrays.copyOf(trail, foundLength), found, s.maxSteps(),
                    s.strategy(), s.seed(), foundSeed, foundIndex);
            found = replay(sc, variant, schedule.choices(), s.maxSteps(), null).violation();
        }
        return new Summary(sc.name(), variant, s.strategy(), s.seed(), schedules, steps, seconds, found,
                schedule, exhausted, dfs == null ? 0 : dfs.pruned(), truncated, interrupted, checks, checkedSchedules);
    }

    /** PCT's k: the length of one default run (the first schedule's rule, no preemption). */
    static int pctWindow(Machine probe, int[] trail, int maxSteps) {
        probe.run(new Strategies.Replay(new int[0], 0), trail, maxSteps);
        return (int) probe.steps();
    }

    /** Adds machine {@code m}'s per-invariant check counts of its one schedule. */
    static void addChecks(Machine m, long[] checks, long[] checkedSchedules) {
        for (int inv = 1; inv <= Violation.INVARIANTS; inv++) {
            long n = m.checkRuns(inv);
            checks[inv] += n;
            if (n > 0) {
                checkedSchedules[inv]++;
            }
        }
    }

    // ---- several worker threads ------------------------------------------------------------------

    /**
     * {@link #explore(Scenario, String, Settings, BooleanSupplier, LongConsumer)} on {@code jobs}
     * worker threads, with the same result for every {@code jobs}: the same schedules, counts,
     * first violation and shrunk schedule, because schedule i of random and PCT search is a
     * function of (seed, i) alone and each worker builds its own machines (no state is shared
     * between two machines; {@code KernelBridge}'s class comment). Workers take chunks of
     * {@link ParallelExplorer#CHUNK} consecutive schedules from a shared counter; when one finds a violation at
     * schedule j, chunks after j are not started and the tallies are added over schedules 0..j
     * only, exactly what one thread would have run. Exhaustive search is one depth-first
     * traversal and runs on the calling thread whatever {@code jobs} says. Only a Ctrl-C
     * ({@code stop}) makes the counts depend on timing, as with one thread.
     */
    public static Summary explore(Scenario sc, String variantName, Settings s, int jobs, BooleanSupplier stop,
                                  LongConsumer progress) {
        if (jobs < 1) {
            throw new IllegalArgumentException("--jobs must be at least 1, got " + jobs);
        }
        if (jobs == 1 || s.strategy().equals("exhaustive")) {
            return explore(sc, variantName, s, stop, progress);
        }
        return ParallelExplorer.explore(sc, variantName, s, jobs, stop, progress);
    }

    // ---- replay ------------------------------------------------------------------------------

    /** Re-runs {@code choices} (then the default rule) on a fresh machine; returns the machine after the run. */
    public static Machine replay(Scenario sc, String variant, int[] choices, int maxSteps, Machine.StepListener l) {
        Machine m = sc.build(variant);
        m.setListener(l);
        m.run(new Strategies.Replay(choices, choices.length), new int[maxSteps], maxSteps);
        return m;
    }

    // ---- shrinking -----------------------------------------------------------------------------

    /**
     * Shrinks a violating trail. First, fewest preemptions: iterative context bounding (exhaustive
     * search with bound 0, 1, … below the trail's count, each with a bounded effort) for a
     * schedule that breaks the same invariant. Then the shortest prefix after which the default
     * rule (no more preemptions) still reaches the violation, and each remaining context switch
     * undone in turn when the violation survives it; repeated until nothing changes.
     */
    static Schedule shrink(Scenario sc, String variant, int[] trail, Violation v, int maxSteps, String strategy,
                           long seed, long scheduleSeed, long index) {
        int[] best = trail;
        int[] buf = new int[maxSteps];
        int had = preemptions(sc, variant, trail, maxSteps);
        for (int bound = 0; bound < had; bound++) {
            int[] fewer = boundedSearch(sc, variant, v, bound, maxSteps, buf, 5_000);
            if (fewer != null) {
                best = fewer;
                break;
            }
        }
        boolean changed = true;
        int budget = 2000;   // replays
        while (changed && budget > 0) {
            changed = false;
            // 1. shortest reproducing prefix
            // "p <= best.length" is equivalent: the whole list reproduces, and changes nothing below
            for (int p = 0; p < best.length && budget > 0; p++) {
                budget--;
                Machine m = runOn(sc, variant, best, p, buf, maxSteps);
                if (sameViolation(m, v)) {
                    if (p < best.length) {   // always true here (the loop's bound): equivalent mutants
                        best = Arrays.copyOf(best, p);
                        changed = true;
                    }
                    break;
                }
            }
            // 2. undo context switches, latest first
            for (int i = best.length - 1; i >= 1 && budget > 0; i--) {
                if (best[i] == best[i - 1]) {
                    continue;
                }
                int[] trial = best.clone();
                trial[i] = best[i - 1];
                budget--;
                Machine m = runOn(sc, variant, trial, trial.length, buf, maxSteps);
                if (sameViolation(m, v)) {
                    best = Arrays.copyOf(buf, Math.min(trial.length, (int) m.steps()));   // as executed
                    changed = true;
                }
            }
        }
        // the saved list is what the final run executed, up to its last listed step
        Machine m = runOn(sc, variant, best, best.length, buf, maxSteps);
        int[] choices = Arrays.copyOf(buf, Math.min(best.length, (int) m.steps()));
        if (!sameViolation(m, v)) {   // cannot happen for a deterministic scenario; keep the original then
            m = runOn(sc, variant, trail, trail.length, buf, maxSteps);
            choices = trail;
        }
        return new Schedule(sc.name(), variant, sc.mode(variant).cliName(), strategy, seed, scheduleSeed, index, choices, m.steps(),
                preemptions(sc, variant, choices, maxSteps), m.violation() == null ? null : m.violation().describe());
    }

    /** A trail breaking {@code v}'s invariant with at most {@code bound} preemptions, or null within {@code runs}. */
    private static int[] boundedSearch(Scenario sc, String variant, Violation v, int bound, int maxSteps, int[] buf,
                                       int runs) {
        Exhaustive dfs = new Exhaustive(bound, maxSteps);
        for (int r = 0; r < runs; r++) {
            Machine m = sc.build(variant);
            dfs.begin(m);
            if (m.run(dfs, buf, maxSteps) == Machine.Outcome.VIOLATION && sameViolation(m, v)) {
                return Arrays.copyOf(buf, (int) m.steps());
            }
            if (!dfs.advance()) {
                return null;
            }
        }
        return null;
    }

    private static Machine runOn(Scenario sc, String variant, int[] list, int length, int[] buf, int maxSteps) {
        Machine m = sc.build(variant);
        m.run(new Strategies.Replay(list, length), buf, maxSteps);
        return m;
    }

    private static boolean sameViolation(Machine m, Violation v) {
        return m.violation() != null && m.violation().invariant() == v.invariant();
    }

    /** Context switches away from a CPU that could have gone on, in a replay of {@code choices}. */
    public static int preemptions(Scenario sc, String variant, int[] choices, int maxSteps) {
        int[] count = {0};
        Strategies.Replay replay = new Strategies.Replay(choices, choices.length);
        Strategy counting = new Strategy() {
            int prev = -1;

            @Override
            public int choose(Machine m, long enabled, int step) {
                int c = replay.choose(m, enabled, step);
                if (prev >= 0 && c != prev && (c >= m.cpuCount() || (prev < m.cpuCount() && (enabled & (1L << prev)) != 0))) {
                    count[0]++;
                }
                prev = c;
                return c;
            }
        };
        sc.build(variant).run(counting, new int[maxSteps], maxSteps);
        return count[0];
    }
}
