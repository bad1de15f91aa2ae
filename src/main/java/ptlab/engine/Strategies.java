package ptlab.engine;

/**
 * The scheduling strategies of {@code ptlab explore} and {@code ptlab replay}. None allocates
 * in {@link Strategy#choose}; each is reset between schedules so one instance serves a whole
 * exploration.
 */
public final class Strategies {

    private Strategies() {
    }

    /**
     * The choice made when nothing else decides (after a replayed list ends, or when a listed
     * choice is not enabled): keep running the CPU that ran last if it can, else the lowest
     * runnable CPU; an injectable event only when no CPU can run. So a schedule's tail of
     * defaults adds no preemption, and a shrunk schedule lists only its first steps.
     */
    public static int defaultChoice(long enabled, int cpuCount, int prev) {
        // Equivalent mutants here: prev == 0 enabled is also the lowest CPU ("prev > 0"), and
        // events are numbered above the CPUs, so the lowest enabled choice is a CPU whenever one
        // is (the mask below changes nothing observable; it states the rule).
        if (prev >= 0 && prev < cpuCount && (enabled & (1L << prev)) != 0) {
            return prev;
        }
        long cpuMask = cpuCount == 64 ? -1L : (1L << cpuCount) - 1;
        long cpus = enabled & cpuMask;
        return Long.numberOfTrailingZeros(cpus != 0 ? cpus : enabled);
    }

    /** splitmix64: the seed of schedule {@code index} of an exploration seeded {@code seed}. */
    public static long scheduleSeed(long seed, long index) {
        return mix(seed + (index + 1) * 0x9E3779B97F4A7C15L);
    }

    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** The {@code r}-th set bit of {@code mask} (0-based). */
    static int nthBit(long mask, int r) {
        for (int i = 0; i < r; i++) {
            mask &= mask - 1;
        }
        return Long.numberOfTrailingZeros(mask);
    }

    /** A small deterministic generator (splitmix64), reseedable without allocation. */
    static final class Rng {
        private long state;

        void seed(long s) {
            state = s;
        }

        long next() {
            state += 0x9E3779B97F4A7C15L;
            return mix(state);
        }

        /** Uniform in [0, bound). */
        int nextInt(int bound) {
            return (int) Long.remainderUnsigned(next(), bound);
        }
    }

    // ---- replay ------------------------------------------------------------------------------

    /** Follows a list of choices, then {@link #defaultChoice}. */
    public static final class Replay implements Strategy {
        private int[] list;
        private int length;
        private int prev = -1;

        public Replay(int[] list, int length) {
            reset(list, length);
        }

        public void reset(int[] list, int length) {
            this.list = list;
            this.length = length;
            this.prev = -1;
        }

        @Override
        public int choose(Machine m, long enabled, int step) {
            int c;
            if (step < length && (enabled & (1L << list[step])) != 0) {
                c = list[step];
            } else {
                c = defaultChoice(enabled, m.cpuCount(), prev);
            }
            prev = c;
            return c;
        }
    }

    // ---- random --------------------------------------------------------------------------------

    /** Uniformly random among the enabled choices at every point. */
    public static final class Random implements Strategy {
        private final Rng rng = new Rng();

        public void reset(long seed) {
            rng.seed(seed);
        }

        @Override
        public int choose(Machine m, long enabled, int step) {
            return nthBit(enabled, rng.nextInt(Long.bitCount(enabled)));
        }
    }

    // ---- PCT -----------------------------------------------------------------------------------

    /**
     * Probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi, Nagarakatte, ASPLOS
     * 2010): random distinct initial priorities d, d+1, … for the choices; {@code d-1} change
     * points drawn uniformly from the first k steps; the highest-priority enabled choice runs;
     * at the i-th change point the choice about to run drops to priority i, below every initial
     * one. Finds any bug of depth d with probability at least 1/(n·k^(d-1)).
     */
    public static final class Pct implements Strategy {
        private final int depth;
        private final Rng rng = new Rng();
        private final int[] priority = new int[64];
        private final int[] changeStep;

        public Pct(int depth) {
            if (depth < 1) {
                throw new IllegalArgumentException("PCT depth must be at least 1, got " + depth);
            }
            this.depth = depth;
            this.changeStep = new int[depth - 1];
        }

        /** New priorities and change points for a run of about {@code k} steps with {@code choices} choices. */
        public void reset(long seed, int choices, int k) {
            rng.seed(seed);
            for (int i = 0; i < choices; i++) {
                priority[i] = depth + i;
            }
            for (int i = choices - 1; i > 0; i--) {   // Fisher-Yates
                int j = rng.nextInt(i + 1);
                int t = priority[i];
                priority[i] = priority[j];
                priority[j] = t;
            }
            for (int i = 0; i < changeStep.length; i++) {
                changeStep[i] = rng.nextInt(Math.max(1, k));
            }
        }

        @Override
        public int choose(Machine m, long enabled, int step) {
            int best = highest(enabled);
            for (int i = 0; i < changeStep.length; i++) {
                if (changeStep[i] == step) {
                    priority[best] = i;   // below every initial priority (those are >= depth)
                    best = highest(enabled);
                }
            }
            return best;
        }

        private int highest(long enabled) {
            int best = -1;
            for (long e = enabled; e != 0; e &= e - 1) {
                int c = Long.numberOfTrailingZeros(e);
                // ">=" would be equivalent: priorities stay distinct (initial d.., demoted 0..d-2)
                if (best < 0 || priority[c] > priority[best]) {
                    best = c;
                }
            }
            return best;
        }
    }
}
