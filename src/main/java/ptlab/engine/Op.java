package ptlab.engine;

/**
 * Kinds of scheduling point: the operation on shared state a simulated CPU is about to perform.
 * Plain int constants so that recording one on the hot path allocates nothing.
 */
public final class Op {
    public static final int START = 0;        // a CPU's first step
    public static final int LOAD = 1;         // kernel/user load from physical memory
    public static final int STORE = 2;
    public static final int CAS = 3;          // compare-and-swap or exchange
    public static final int WALK_LOAD = 4;    // page walker reading a paging-structure entry
    public static final int WALK_CAS = 5;     // page walker setting A/D
    public static final int LOCK = 6;         // spin_lock / down_write: addr = lock id
    public static final int UNLOCK = 7;
    public static final int IPI_SEND = 8;     // addr = target CPU
    public static final int IPI_WAIT = 9;     // sender waiting for acks
    public static final int IPI_ACK = 10;     // target acknowledging (csd unlock)
    public static final int TLB_FLUSH = 11;   // INVLPG / CR3 write / flush all, on this CPU
    public static final int INTERRUPT = 12;   // interrupt, IPI or NMI entry: addr = vector
    public static final int IDLE = 13;        // program finished; waits for interrupts
    public static final int FREE = 14;        // kernel frees a page (invariants 2, 3, 6 checked here)
    public static final int CHECK = 15;       // kernel relies on an invariant from here on (it is checked)
    public static final int TRYLOCK = 16;     // spin_trylock / down_read_trylock: addr = lock id; never waits
    public static final int SHARED_LOAD = 17;   // a kernel shared variable (SharedLong/SharedRef): addr = its location
    public static final int SHARED_STORE = 18;
    public static final int SHARED_RMW = 19;    // compare-and-set, add, or, and-not
    public static final int ALLOC = 20;         // frame allocator: alloc, free, get/put_page (ordered against everything)
    public static final int COUNT = 21;

    private static final String[] NAMES = {"start", "load", "store", "cas", "walk-load", "walk-cas", "lock", "unlock",
            "ipi-send", "ipi-wait", "ipi-ack", "tlb-flush", "interrupt", "idle", "free", "check", "trylock",
            "shared-load", "shared-store", "shared-rmw", "alloc"};

    private Op() {
    }

    public static String name(int op) {
        return op >= 0 && op < NAMES.length ? NAMES[op] : "op" + op;
    }

    /** Operations on physical memory (the ones partial-order reduction can reason about). */
    public static boolean isMemory(int op) {
        return op >= LOAD && op <= WALK_CAS;
    }

    public static boolean isRead(int op) {
        return op == LOAD || op == WALK_LOAD || op == SHARED_LOAD;
    }

    /** Accesses to a kernel shared variable (addr = the variable's location). */
    public static boolean isShared(int op) {
        return op >= SHARED_LOAD && op <= SHARED_RMW;
    }
}
