package ptlab.kernel;

/** vm_fault_t results and fault flags (include/linux/mm_types.h, include/linux/mm.h). */
public final class VmFault {
    private VmFault() {
    }

    public static final int VM_FAULT_OOM = 0x000001;
    public static final int VM_FAULT_SIGBUS = 0x000002;
    public static final int VM_FAULT_MAJOR = 0x000004;
    public static final int VM_FAULT_SIGSEGV = 0x000040;
    public static final int VM_FAULT_NOPAGE = 0x000100;
    public static final int VM_FAULT_RETRY = 0x000400;
    public static final int VM_FAULT_FALLBACK = 0x000800;
    public static final int VM_FAULT_ERROR = VM_FAULT_OOM | VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV;

    public static final int FAULT_FLAG_WRITE = 1 << 0;
    public static final int FAULT_FLAG_ALLOW_RETRY = 1 << 2;
    public static final int FAULT_FLAG_USER = 1 << 6;
    public static final int FAULT_FLAG_INSTRUCTION = 1 << 8;

    /** A readable name for a result, e.g. "VM_FAULT_SIGSEGV" or "0". */
    public static String describe(int r) {
        if (r == 0) {
            return "0";
        }
        StringBuilder sb = new StringBuilder();
        if ((r & VM_FAULT_OOM) != 0) sb.append("|VM_FAULT_OOM");
        if ((r & VM_FAULT_SIGBUS) != 0) sb.append("|VM_FAULT_SIGBUS");
        if ((r & VM_FAULT_SIGSEGV) != 0) sb.append("|VM_FAULT_SIGSEGV");
        if ((r & VM_FAULT_NOPAGE) != 0) sb.append("|VM_FAULT_NOPAGE");
        if ((r & VM_FAULT_RETRY) != 0) sb.append("|VM_FAULT_RETRY");
        if ((r & VM_FAULT_FALLBACK) != 0) sb.append("|VM_FAULT_FALLBACK");
        return sb.length() == 0 ? String.format("0x%x", r) : sb.substring(1);
    }
}
