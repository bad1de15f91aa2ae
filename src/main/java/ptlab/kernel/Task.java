package ptlab.kernel;

/** struct task_struct, reduced to what page-table management needs: a pid and an mm. */
public final class Task {

    private final int pid;
    MmStruct mm;
    /** The CPU this task is current on, or null. */
    Cpu cpu;
    boolean dead;

    Task(int pid, MmStruct mm) {
        this.pid = pid;
        this.mm = mm;
    }

    public int pid() {
        return pid;
    }

    /** current->mm: null once the task exited. */
    public MmStruct mm() {
        return mm;
    }

    public Cpu cpu() {
        return cpu;
    }

    public boolean isDead() {
        return dead;
    }

    @Override
    public String toString() {
        return "task " + pid;
    }
}
