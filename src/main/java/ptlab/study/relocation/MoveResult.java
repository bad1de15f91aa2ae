package ptlab.study.relocation;

/**
 * What one request to move a page-table page came to. A refusal is a result, not an exception:
 * the questions of mail 002 (a non-page-sized PAE pgd, init_mm's tables, a level folded away)
 * are answered by the migrator saying no and why.
 *
 * @param status      moved, refused, or nothing there to move
 * @param level       Linux level of the table (1 = pte .. 5 = pgd)
 * @param oldTable    physical address of the table before (-1 if none)
 * @param newTable    physical address after (-1 unless moved)
 * @param reason      why it was refused (null otherwise)
 * @param merged      entries whose A/D bits were merged from the old copy (safe protocol)
 */
public record MoveResult(Status status, int level, long oldTable, long newTable, String reason, int merged) {

    public enum Status { MOVED, REFUSED, NOTHING }

    static MoveResult moved(int level, long oldTable, long newTable, int merged) {
        return new MoveResult(Status.MOVED, level, oldTable, newTable, null, merged);
    }

    static MoveResult refused(int level, String reason) {
        return new MoveResult(Status.REFUSED, level, -1, -1, reason, 0);
    }

    static MoveResult nothing(int level) {
        return new MoveResult(Status.NOTHING, level, -1, -1, null, 0);
    }

    public boolean moved() {
        return status == Status.MOVED;
    }
}
