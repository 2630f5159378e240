using System;
using FastPt.Mm;

namespace FastPt;

// The HugeTLB pool and the page queries of fs/proc.
public sealed partial class Machine
{
    /// <summary>The HugeTLB pool and its vmemmap optimization.</summary>
    public HugeTlbPool HugeTlb { get; }

    /// <summary>The flags of frame <paramref name="pfn"/> as <c>/proc/kpageflags</c> reports them (kernel bit
    /// numbers; <see cref="KPageFlags.NoPage"/> for a frame that is not present memory).</summary>
    public KPageFlags GetPageFlags(ulong pfn)
    {
        ThrowIfDisposed();
        return PageInspection.StablePageFlags(_memory, pfn);
    }

    /// <summary>Reads the flags of frames <paramref name="startPfn"/> onwards into <paramref name="flags"/>, one
    /// 64-bit word per frame, as a read of <c>/proc/kpageflags</c> at offset <c>startPfn * 8</c> does.</summary>
    public void ReadPageFlags(ulong startPfn, Span<ulong> flags)
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfGreaterThan(startPfn, ulong.MaxValue - (ulong)flags.Length);
        for (int i = 0; i < flags.Length; i++) flags[i] = (ulong)PageInspection.StablePageFlags(_memory, startPfn + (ulong)i);
    }
}
