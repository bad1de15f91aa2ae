package ptlab.hw;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

/** The entry formats' accessors, bit for bit against the SDM's tables (vol. 3, 4.3, 4.4.2, 4.5). */
class EntryFormatsTest {

    @Test
    void pte64AddressKeepsBitsMMinus1DownToThePageShift() {
        long e = 0xFFFF_FFFF_FFFF_FFFFL;
        assertEquals(0x0000_000F_FFFF_F000L, Pte64.address(e, 36, 12));
        assertEquals(0x0000_000F_FFE0_0000L, Pte64.address(e, 36, 21));
        assertEquals(0x000F_FFFF_C000_0000L, Pte64.address(e, 52, 30));
        assertEquals(0x0000_3FFF_FFFF_F000L, Pte64.addressMask(46, 12));
    }

    @Test
    void protectionKeysAreBits62To59AndOnly0To15() {
        long e = Pte64.withPkey(PteBits.P | Pte64.NX, 15);
        assertEquals(15, Pte64.pkey(e));
        assertEquals(0x7800_0000_0000_0000L, e & Pte64.PKEY_MASK);
        assertTrue(Pte64.executeDisable(e), "XD kept");
        assertEquals(PteBits.P, e & 0xFFF);
        assertEquals(0, Pte64.pkey(Pte64.withPkey(e, 0)));
        assertEquals(5, Pte64.pkey(Pte64.withPkey(e, 5)));
        IllegalArgumentException big = assertThrows(IllegalArgumentException.class, () -> Pte64.withPkey(0, 16));
        assertTrue(big.getMessage().contains("16"), big.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Pte64.withPkey(0, -1));
    }

    @Test
    void executeDisableIsBit63() {
        assertTrue(Pte64.executeDisable(Pte64.NX));
        assertFalse(Pte64.executeDisable(Pte64.NX >>> 1));
        assertFalse(Pte64.executeDisable(0));
    }

    /** Tables 4-9 to 4-11 (PAE: 62:M reserved) and 4-14 to 4-20 (4/5-level: 51:M). */
    @Test
    void reservedBitsPerFormatLevelAndPageSize() {
        long pae = Pte64.reservedMask(true, 1, false, 36, true);
        assertEquals(0x7FFF_FFF0_0000_0000L, pae, "PAE PTE with NXE: bits 62:36");
        assertEquals(pae | Pte64.NX, Pte64.reservedMask(true, 1, false, 36, false), "XD reserved without NXE");
        long lm = Pte64.reservedMask(false, 1, false, 46, true);
        assertEquals(0x000F_C000_0000_0000L, lm, "4-level PTE: bits 51:46");
        assertEquals(lm | PteBits.PS, Pte64.reservedMask(false, 4, false, 46, true), "PS reserved in a PML4E");
        assertEquals(lm | PteBits.PS, Pte64.reservedMask(false, 5, true, 46, true), "and in a PML5E");
        assertEquals(lm, Pte64.reservedMask(false, 3, false, 46, true), "a PDPTE pointing at a table");
        assertEquals(lm | 0xFFL << 13, Pte64.reservedMask(false, 2, true, 46, true), "2 MiB page: bits 20:13");
        assertEquals(lm | 0x1FFFFL << 13, Pte64.reservedMask(false, 3, true, 46, true), "1 GiB page: bits 29:13");
        assertEquals(lm, Pte64.reservedMask(false, 1, true, 46, true), "PS means nothing in a PTE");
    }

    @Test
    void pte32AddressesIncludingPse36() {
        assertEquals(0xFFFF_F000L, Pte32.address(0xFFFF_FFFFL));
        long pa = 0xAB_C040_0000L;   // PA 39:32 = 0xAB, 31:22 = 0x301
        long pde = Pte32.encodeLargeAddress(pa);
        assertEquals(0xC040_0000L | 0xABL << 13, pde);
        assertEquals(pa, Pte32.largeAddress(pde | PteBits.P | PteBits.PS | 1L << 12));
        assertEquals(0, Pte32.tableReservedMask());
    }

    /** Table 4-5: bits 21:(M-19) of a 4 MiB PDE are reserved, M capped at 40. */
    @Test
    void pte32LargeReservedBitsFollowMaxPhyAddr() {
        assertEquals(0x3E_0000L, Pte32.largeReservedMask(36), "bits 21:17");
        assertEquals(1L << 21, Pte32.largeReservedMask(40), "bit 21 only");
        assertEquals(1L << 21, Pte32.largeReservedMask(52), "M capped at 40");
        assertEquals(0x3F_E000L, Pte32.largeReservedMask(32), "bits 21:13");
    }
}
