package ptlab.cli;

import java.util.Map;

/**
 * {@code --shard K/N}: this process runs the K-th of N shares of a sweep (1 <= K <= N). The
 * index can come from the batch system instead of the command line:
 * <ul>
 * <li>{@code --shard env/N}: K = {@code JOB_COMPLETION_INDEX} + 1 (a Kubernetes Indexed Job,
 *     0-based), or {@code SLURM_ARRAY_TASK_ID} - {@code SLURM_ARRAY_TASK_MIN} + 1 (a Slurm job
 *     array, whatever its first index);</li>
 * <li>{@code --shard env}: the same, with N = {@code SLURM_ARRAY_TASK_COUNT} (Kubernetes sets
 *     no count, so there N must be given).</li>
 * </ul>
 */
public record ShardSpec(int index, int count) {

    public static final ShardSpec WHOLE = new ShardSpec(0, 1);

    /** True when run {@code i} of the sweep belongs to this shard. */
    public boolean owns(long i) {
        return i % count == index;
    }

    /** "K/N", as written in results. */
    public String label() {
        return (index + 1) + "/" + count;
    }

    public static ShardSpec parse(String spec, Map<String, String> env) {
        if (spec == null) {
            return WHOLE;
        }
        if (spec.equals("env") || spec.startsWith("env/")) {
            int n = spec.equals("env") ? envInt(env, "SLURM_ARRAY_TASK_COUNT",
                    "--shard env needs SLURM_ARRAY_TASK_COUNT; on Kubernetes write --shard env/N") : count(spec.substring(4), spec);
            int k;
            if (env.containsKey("JOB_COMPLETION_INDEX")) {
                k = envInt(env, "JOB_COMPLETION_INDEX", null);
            } else if (env.containsKey("SLURM_ARRAY_TASK_ID")) {
                int min = env.containsKey("SLURM_ARRAY_TASK_MIN") ? envInt(env, "SLURM_ARRAY_TASK_MIN", null) : 0;
                k = envInt(env, "SLURM_ARRAY_TASK_ID", null) - min;
            } else {
                throw new UsageException("--shard " + spec + ": neither JOB_COMPLETION_INDEX (Kubernetes) nor "
                        + "SLURM_ARRAY_TASK_ID (Slurm) is set");
            }
            if (k < 0 || k >= n) {
                throw new UsageException("--shard " + spec + ": the batch index gives shard " + (k + 1) + " of " + n
                        + ", outside 1.." + n);
            }
            return new ShardSpec(k, n);
        }
        String[] p = spec.split("/", -1);
        int k;
        int n;
        try {
            if (p.length != 2) {
                throw new NumberFormatException();
            }
            k = Integer.parseInt(p[0].strip());
            n = Integer.parseInt(p[1].strip());
        } catch (NumberFormatException e) {
            throw new UsageException("--shard must be K/N, env/N or env, e.g. 3/8, got '" + spec + "'");
        }
        if (n < 1 || k < 1 || k > n) {
            throw new UsageException("--shard K/N needs 1 <= K <= N, got '" + spec + "'");
        }
        return new ShardSpec(k - 1, n);
    }

    private static int count(String s, String spec) {
        try {
            int n = Integer.parseInt(s.strip());
            if (n >= 1) {
                return n;
            }
        } catch (NumberFormatException e) {
            // fall through
        }
        throw new UsageException("--shard " + spec + ": N must be a positive number of shards");
    }

    private static int envInt(Map<String, String> env, String name, String missing) {
        String v = env.get(name);
        if (v == null) {
            throw new UsageException(missing);
        }
        try {
            return Integer.parseInt(v.strip());
        } catch (NumberFormatException e) {
            throw new UsageException(name + " must be a number, got '" + v + "'");
        }
    }
}
