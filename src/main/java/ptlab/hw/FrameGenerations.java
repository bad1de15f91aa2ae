package ptlab.hw;

/**
 * Generations of physical frames, kept by a checker (not by the hardware): a frame's generation
 * changes whenever it is freed or allocated. A walk remembers the generation of each table it
 * reaches through the entry above (and a paging-structure-cache entry the generation of the
 * table it points to, as the walk that filled it saw it), so a walk that continues in a table
 * freed and reused since is told apart from a walk in a live table: {@link #staleTableRead}.
 * Real hardware has nothing like it; the model uses it only to catch invariant 2 ("no CPU
 * walks a page-table page after it was freed") when the freed frame was already reused.
 *
 * <p>Installed per {@link Mmu} ({@link Mmu#setFrameGenerations}); consulted only on a walk's
 * hooked path (a machine that makes memory accesses scheduling points), never on the
 * unhooked fast path.
 */
public interface FrameGenerations {

    /** No generation known: a reference that was not recorded is never reported. */
    long UNKNOWN = Long.MIN_VALUE;

    /** The generation of the frame holding {@code pa}. */
    long generation(long pa);

    /**
     * A walk read the entry at {@code entryAddress} (paging level {@code level}) of the table
     * at {@code table}, which it reached through a reference taken at generation {@code seen};
     * the frame is at another generation now: it was freed (and perhaps reused) since.
     * {@code fromCache}: the reference was a paging-structure-cache entry.
     */
    void staleTableRead(long table, long seen, long entryAddress, int level, boolean fromCache);
}
