using System.Runtime.CompilerServices;

namespace FastPt.Lib;

internal static unsafe partial class MemchrInv
{
    /// <summary>The kernel's own algorithm (<c>lib/string.c</c>): bytes up to 8-byte alignment, then one 64-bit
    /// word at a time against the value repeated eight times, then the tail. The benchmark baseline.</summary>
    public static long Scalar(byte* start, nuint length, byte value)
    {
        // Short ranges are not worth the word setup, as in the kernel.
        if (length <= 16) return CheckBytes(start, 0, length, value);

        ulong pattern = value * 0x0101010101010101UL;
        nuint offset = 0;
        nuint prefix = (nuint)start % sizeof(ulong);
        if (prefix != 0)
        {
            prefix = sizeof(ulong) - prefix;
            long hit = CheckBytes(start, 0, prefix, value);
            if (hit >= 0) return hit;
            offset = prefix;
        }

        nuint wordsEnd = offset + ((length - offset) & ~(nuint)(sizeof(ulong) - 1));
        for (; offset < wordsEnd; offset += sizeof(ulong))
        {
            // The kernel finds the byte inside a mismatching word with the byte loop too.
            if (*(ulong*)(start + offset) != pattern) return CheckBytes(start, offset, sizeof(ulong), value);
        }

        return CheckBytes(start, offset, length - offset, value);
    }

    /// <summary><c>check_bytes8</c>: the byte loop over <c>[offset, offset + count)</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long CheckBytes(byte* start, nuint offset, nuint count, byte value)
    {
        for (nuint end = offset + count; offset < end; offset++)
        {
            if (start[offset] != value) return (long)offset;
        }

        return -1;
    }
}
