package ptlab.study.faultlocking;

/**
 * The workload mixes. Faulting threads each fault their way through their own arena (an mmap
 * of {@link #arenaPages} pages, every fourth one MAP_SHARED as the model's "file-like"
 * memory), munmap it when done and map the next. Side threads loop, with {@link #THINK} cycles
 * of user work between calls, until the faulters are done: writer-heavy makes every fourth
 * thread (from 4 CPUs on) call mmap/munmap, mprotect or brk on its own scratch vmas;
 * fork-heavy makes the last thread (from 2 CPUs on) fork, the child exiting at once.
 */
public enum Mix {
    /** Faulting threads only, large arenas (pft-threads). */
    READ_MOSTLY("read-mostly", 256, false, false),
    /** A quarter of the threads change vmas (mmap/munmap, mprotect, brk) other than the faulters'. */
    WRITER_HEAVY("writer-heavy", 256, true, false),
    /** One thread forks over and over (copying every faulter's page tables), the child exits at once. */
    FORK_HEAVY("fork-heavy", 256, false, true),
    /** will-it-scale page_fault3: small file-like arenas mapped, written and unmapped over and over. */
    CHURN("churn", 4, false, false);

    /** Cycles of user work a side thread does between two calls. */
    public static final long THINK = 5_000;

    final String cliName;
    final int arenaPages;
    final boolean writers;
    final boolean forkers;

    Mix(String cliName, int arenaPages, boolean writers, boolean forkers) {
        this.cliName = cliName;
        this.arenaPages = arenaPages;
        this.writers = writers;
        this.forkers = forkers;
    }

    /** Whether thread {@code i} of {@code cpus} is a side thread (writer or forker) rather than a faulter. */
    boolean side(int i, int cpus) {
        if (forkers) {
            return cpus >= 2 && i == cpus - 1;                 // one forking thread
        }
        return writers && cpus >= 4 && i % 4 == 3;
    }

    public String cliName() {
        return cliName;
    }

    public static Mix byName(String name) {
        for (Mix m : values()) {
            if (m.cliName.equals(name)) {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown mix '" + name + "' (known: read-mostly, writer-heavy, fork-heavy, churn)");
    }

    @Override
    public String toString() {
        return cliName;
    }
}
