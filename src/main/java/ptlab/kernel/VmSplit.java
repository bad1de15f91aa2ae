package ptlab.kernel;

/**
 * The x86-32 user/kernel split (CONFIG_VMSPLIT_3G/2G/1G): PAGE_OFFSET is CONFIG_PAGE_OFFSET
 * from Linux v6.6 arch/x86/Kconfig ({@code config PAGE_OFFSET}: 0xC0000000, 0x80000000, 0x40000000).
 */
public enum VmSplit {
    VMSPLIT_3G("3G", 0xC000_0000L),
    VMSPLIT_2G("2G", 0x8000_0000L),
    VMSPLIT_1G("1G", 0x4000_0000L);

    private final String cliName;
    private final long pageOffset;

    VmSplit(String cliName, long pageOffset) {
        this.cliName = cliName;
        this.pageOffset = pageOffset;
    }

    /** PAGE_OFFSET: where the kernel's half of the 4 GiB address space begins. */
    public long pageOffset() {
        return pageOffset;
    }

    public String cliName() {
        return cliName;
    }

    public static VmSplit fromCliName(String s) {
        for (VmSplit v : values()) {
            if (v.cliName.equalsIgnoreCase(s)) {
                return v;
            }
        }
        throw new IllegalArgumentException("unknown vmsplit '" + s + "' (expected 3G, 2G or 1G)");
    }

    @Override
    public String toString() {
        return cliName;
    }
}
