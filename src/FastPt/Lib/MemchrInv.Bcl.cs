using System;

namespace FastPt.Lib;

internal static unsafe partial class MemchrInv
{
    /// <summary>The BCL's <see cref="MemoryExtensions.IndexOfAnyExcept{T}(ReadOnlySpan{T}, T)"/> (one unaligned
    /// vector per iteration, up to 512 bits), over ranges of any length. A benchmark baseline, and the entry
    /// point's choice when no 256-bit vectors are accelerated.</summary>
    public static long Bcl(byte* start, nuint length, byte value)
    {
        // Spans are at most int.MaxValue long: longer ranges go in chunks.
        nuint offset = 0;
        while (length - offset > int.MaxValue)
        {
            int chunkHit = new ReadOnlySpan<byte>(start + offset, int.MaxValue).IndexOfAnyExcept(value);
            if (chunkHit >= 0) return (long)offset + chunkHit;
            offset += int.MaxValue;
        }

        int hit = new ReadOnlySpan<byte>(start + offset, (int)(length - offset)).IndexOfAnyExcept(value);
        return hit >= 0 ? (long)offset + hit : -1;
    }
}
