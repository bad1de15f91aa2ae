package ptlab.engine;

/**
 * Chooses who runs at each scheduling point. {@code enabled} has bit i set for each choice
 * that can be taken (CPU i for i below the CPU count, then the injectable events). Must not
 * allocate: it is called once per step. Returns the choice, or -1 to abandon the run
 * (exhaustive search pruning a redundant interleaving).
 */
public interface Strategy {
    int choose(Machine m, long enabled, int step);
}
