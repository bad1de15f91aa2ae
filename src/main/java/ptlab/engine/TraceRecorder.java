package ptlab.engine;

import java.util.ArrayList;
import java.util.List;

import ptlab.hw.PhysicalMemory;

/**
 * Records a readable trace of a run for {@code ptlab replay}: each step's CPU, operation,
 * address and value, page-table entries decoded ("pte 0x4008: 0x10025 [P RW US A] -> 0x0
 * [np]"), and interrupt deliveries. Allocates per step: used for replays, never while exploring.
 */
public final class TraceRecorder implements Machine.StepListener {

    /** One line of the trace; {@code step} is -1 and {@code op} "note" for interrupt deliveries. */
    public record Line(long step, int cpu, String op, long addr, String text) {
        public String format() {
            if (step < 0) {
                return String.format("%6s  %-5s %-11s %s", "", "CPU" + cpu, "", text);
            }
            return String.format("%6d  %-5s %-11s %s", step, "CPU" + cpu, op, text);
        }
    }

    private final List<Line> lines = new ArrayList<>();
    private final List<Line> inStep = new ArrayList<>();
    private long before;
    private String lockName;

    public List<Line> lines() {
        return lines;
    }

    @Override
    public void beforeStep(Machine m, long step, int choice, SimCpu cpu, int op, long addr) {
        if (Op.isMemory(op) || op == Op.CHECK) {
            before = m.peekLong(addr);
        }
        lockName = cpu.blocker instanceof SimLock l ? l.name()
                : cpu.blocker instanceof KernelBridge.State k ? k.describe(m, cpu) : null;
    }

    @Override
    public void afterStep(Machine m, long step, SimCpu cpu, int op, long addr) {
        String text = switch (op) {
            case Op.START -> "starts its program";
            case Op.LOAD, Op.WALK_LOAD -> m.describeWord(addr);
            case Op.STORE, Op.CAS, Op.WALK_CAS -> change(m, addr);
            case Op.LOCK -> "takes " + (lockName != null ? lockName : m.lockName(addr));
            case Op.UNLOCK -> "releases " + m.lockName(addr);
            case Op.TRYLOCK -> "tries " + m.lockName(addr);
            case Op.SHARED_LOAD -> "reads " + m.sharedName(addr);
            case Op.SHARED_STORE -> "writes " + m.sharedName(addr);
            case Op.SHARED_RMW -> "updates " + m.sharedName(addr);
            case Op.ALLOC -> "enters the frame allocator";
            case Op.IPI_SEND -> "sends CALL_FUNCTION IPI to CPU" + addr;
            case Op.IPI_WAIT -> "all IPIs acknowledged";
            case Op.IPI_ACK -> "acknowledges the IPI of CPU" + addr;
            case Op.TLB_FLUSH -> addr == -1 ? "flushes its whole TLB" : String.format("INVLPG 0x%x", addr);
            case Op.INTERRUPT -> "interrupt entry";
            case Op.IDLE -> "idle";
            case Op.FREE -> String.format("frees %s 0x%x", m.isPageTable(addr) ? "page-table page" : "page",
                    addr & ~(long) (PhysicalMemory.PAGE_SIZE - 1));
            case Op.CHECK -> "relies on " + m.describeWord(addr);
            default -> Op.name(op) + " " + addr;
        };
        lines.add(new Line(step, cpu.id(), Op.name(op), addr, text));
        lines.addAll(inStep);
        inStep.clear();
    }

    @Override
    public void noteInStep(Machine m, SimCpu cpu, String text) {
        inStep.add(new Line(-1, cpu.id(), "note", 0, text));
    }

    private String change(Machine m, long addr) {
        long after = m.peekLong(addr);
        String now = m.describeWord(addr);
        if (after == before) {
            return now + " (unchanged)";
        }
        int eq = now.indexOf(" = ");
        String where = now.substring(0, eq);
        String was = m.isPageTable(addr) ? String.format("0x%x [%s]", before, ptlab.hw.PteBits.describe(before))
                : String.format("0x%x", before);
        return where + ": " + was + " -> " + now.substring(eq + 3);
    }

    @Override
    public void note(Machine m, SimCpu cpu, String text) {
        lines.add(new Line(-1, cpu.id(), "note", 0, text));
    }
}
