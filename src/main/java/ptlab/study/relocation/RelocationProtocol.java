package ptlab.study.relocation;

import java.util.List;

/**
 * A way to move a live process's page-table page to another NUMA node. Every protocol gets the
 * same mechanism ({@link PageTableMigrator}: find, allocate on the node, copy, switch the
 * parent, flush, free) and differs in what it does about hardware walkers that still use the
 * old copy: nothing ({@link Naive}), stall them ({@link SafeStall}), merge what they did
 * afterwards ({@link SafeMerge}), or never take the old copy away ({@link Replicate}).
 */
public sealed interface RelocationProtocol permits Naive, SafeMerge, SafeStall, Replicate {

    String name();

    /** Deliberately broken: the explorer must catch it. */
    boolean broken();

    String description();

    /**
     * Moves the level-{@code level} table translating {@code va} in {@code m.mm()} to node
     * {@code node}, running as kernel code on {@code m}'s CPU.
     */
    MoveResult move(PageTableMigrator m, int level, long va, int node);

    static List<RelocationProtocol> all() {
        return List.of(new Naive(), new SafeMerge(), new SafeStall(), new Replicate());
    }

    static RelocationProtocol byName(String name) {
        for (RelocationProtocol p : all()) {
            if (p.name().equals(name)) {
                return p;
            }
        }
        throw new IllegalArgumentException("unknown relocation protocol '" + name
                + "' (known: naive, safe, safe-stall, replicate)");
    }
}
