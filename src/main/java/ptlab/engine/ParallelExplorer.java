package ptlab.engine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.LongConsumer;

/**
 * Random and PCT search on several worker threads ({@code explore --jobs N}), with the result of
 * one thread: see {@link Explorer#explore(Scenario, String, Explorer.Settings, int, BooleanSupplier,
 * LongConsumer)}.
 *
 * <p>Concurrency: the workers share only the chunk counter, the first violation's position, the
 * count of schedules done (progress), the list of tallies and the first failure, all atomic or
 * synchronized; each worker builds its own machines, so no simulated state is shared. A chunk
 * starting after the first violation found so far is never started, and every chunk starting
 * at or before it is run to its end (or to its own violation), so the tallies at or before the
 * final first violation are exactly the schedules one thread would have run.
 */
final class ParallelExplorer {

    /** Schedules a worker takes at a time: consecutive indices, so the tallies add up in index order. */
    static final int CHUNK = 64;

    private ParallelExplorer() {
    }

    static Explorer.Summary explore(Scenario sc, String variantName, Explorer.Settings s, int jobs, BooleanSupplier stop,
                                    LongConsumer progress) {
        String variant = sc.variant(variantName).name();
        long t0 = System.nanoTime();
        int k = s.strategy().equals("pct") ? Explorer.pctWindow(sc.build(variant), new int[s.maxSteps()], s.maxSteps()) : 0;
        // schedules i = shardIndex + j * shardCount, j in [0, total): j is the position in our share
        long total = (s.schedules() - s.shardIndex() + s.shardCount() - 1) / s.shardCount();
        AtomicLong nextChunk = new AtomicLong();
        AtomicLong firstViolation = new AtomicLong(Long.MAX_VALUE);
        AtomicLong done = new AtomicLong();
        List<Tally> tallies = Collections.synchronizedList(new ArrayList<>());
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Runnable worker = () -> {
            try {
                Worker w = new Worker(sc, variant, s, k);
                while (failure.get() == null) {
                    long first = nextChunk.getAndIncrement() * CHUNK;
                    // Equivalent boundaries: first > total only skips an empty chunk; first >= the
                    // first violation cannot differ, since only the violating chunk itself starts there.
                    if (first >= total || first > firstViolation.get()) {
                        return;
                    }
                    Tally t = w.run(first, Math.min(total, first + CHUNK), stop, done, progress);
                    tallies.add(t);
                    if (t.foundJ >= 0) {
                        firstViolation.accumulateAndGet(t.foundJ, Math::min);
                    }
                    if (t.interrupted) {
                        return;
                    }
                }
            } catch (Throwable e) {
                failure.compareAndSet(null, e);
            }
        };
        Thread[] threads = new Thread[jobs];
        for (int t = 0; t < jobs; t++) {
            threads[t] = new Thread(worker, "explore-" + t);
            threads[t].start();
        }
        for (Thread t : threads) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                failure.compareAndSet(null, e);
            }
        }
        Throwable f = failure.get();
        if (f instanceof RuntimeException re) {
            throw re;
        } else if (f instanceof Error err) {
            throw err;
        } else if (f != null) {
            throw new IllegalStateException("explore worker failed", f);
        }
        // add up the chunks a single thread would have run (those starting at or before the first
        // violation); sums and the one chunk holding that violation do not depend on their order
        long fv = firstViolation.get();
        long[] checks = new long[Violation.INVARIANTS + 1];
        long[] checkedSchedules = new long[Violation.INVARIANTS + 1];
        long schedules = 0;
        long steps = 0;
        long truncated = 0;
        boolean interrupted = false;
        Tally found = null;
        for (Tally t : tallies) {
            if (t.first > fv) {
                continue;
            }
            schedules += t.schedules;
            steps += t.steps;
            truncated += t.truncated;
            interrupted |= t.interrupted;
            for (int inv = 1; inv <= Violation.INVARIANTS; inv++) {
                checks[inv] += t.checks[inv];
                checkedSchedules[inv] += t.checkedSchedules[inv];
            }
            if (t.foundJ == fv) {
                found = t;
            }
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        Violation violation = null;
        Schedule schedule = null;
        if (found != null) {
            long i = s.shardIndex() + found.foundJ * s.shardCount();
            schedule = Explorer.shrink(sc, variant, found.foundTrail, found.violation, s.maxSteps(), s.strategy(), s.seed(),
                    Strategies.scheduleSeed(s.seed(), i), i);
            violation = Explorer.replay(sc, variant, schedule.choices(), s.maxSteps(), null).violation();
        }
        return new Explorer.Summary(sc.name(), variant, s.strategy(), s.seed(), schedules, steps, seconds, violation, schedule,
                false, 0, truncated, interrupted, checks, checkedSchedules);
    }

    /** What one worker's run of a chunk [first, end) of our share added up to. */
    private static final class Tally {
        final long first;
        long schedules;
        long steps;
        long truncated;
        boolean interrupted;
        final long[] checks = new long[Violation.INVARIANTS + 1];
        final long[] checkedSchedules = new long[Violation.INVARIANTS + 1];
        long foundJ = -1;
        Violation violation;
        int[] foundTrail;

        Tally(long first) {
            this.first = first;
        }
    }

    /** One worker thread's strategies and trail: nothing here is shared with another worker. */
    private static final class Worker {
        private final String variant;
        private final Explorer.Settings s;
        private final int k;
        private final int[] trail;
        private final Strategies.Random random = new Strategies.Random();
        private final Strategies.Pct pct;
        /** This worker's own machines (a boot image is never shared between workers). */
        private final java.util.function.Supplier<Machine> machines;

        Worker(Scenario sc, String variant, Explorer.Settings s, int k) {
            this.machines = sc.machines(variant);
            this.variant = variant;
            this.s = s;
            this.k = k;
            this.trail = new int[s.maxSteps()];
            this.pct = s.strategy().equals("pct") ? new Strategies.Pct(s.maxDepth()) : null;
        }

        Tally run(long first, long end, BooleanSupplier stop, AtomicLong done,
                  LongConsumer progress) {
            Tally t = new Tally(first);
            for (long j = first; j < end; j++) {
                if (stop.getAsBoolean()) {
                    t.interrupted = true;
                    break;
                }
                long seed = Strategies.scheduleSeed(s.seed(), s.shardIndex() + j * s.shardCount());
                Machine m = machines.get();
                Strategy strategy;
                if (pct != null) {
                    pct.reset(seed, m.choiceCount(), k);
                    strategy = pct;
                } else {
                    random.reset(seed);
                    strategy = random;
                }
                Machine.Outcome o = m.run(strategy, trail, s.maxSteps());
                t.schedules++;
                t.steps += m.steps();
                Explorer.addChecks(m, t.checks, t.checkedSchedules);
                long n = done.incrementAndGet();
                if (progress != null && (n & 63) == 0) {
                    progress.accept(n);
                }
                if (o == Machine.Outcome.STEP_LIMIT) {
                    t.truncated++;
                } else if (o == Machine.Outcome.VIOLATION) {
                    t.foundJ = j;
                    t.violation = m.violation();
                    t.foundTrail = Arrays.copyOf(trail, (int) m.steps());
                    break;
                }
            }
            return t;
        }
    }
}
