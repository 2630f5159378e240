using System;
using FastPt.Mm;

namespace FastPt;

/// <summary>Batches the teardown side of page-table changes (the kernel's <c>struct mmu_gather</c>): cleared
/// ranges and detached table pages are collected, the TLBs are flushed once, and only then is anything freed.
/// Use it with <c>using</c> to make several unmaps or protects share one flush:
/// <code>using (var tlb = space.BeginGather()) { space.Unmap(a, n, tlb); space.Unmap(b, m, tlb); }</code>
/// The flush happens when the gather is disposed, or earlier if its batch fills.</summary>
public sealed class MmuGather : IDisposable
{
    // The gather itself (Mm/MmuGatherCore.cs); this handle only exposes its counters and its end.
    private readonly MmuGatherCore _core;

    internal MmuGather(MmStruct mm) => _core = new MmuGatherCore(mm, owned: false);

    internal MmuGatherCore Core => _core;

    /// <summary>TLB flushes this gather has issued.</summary>
    public int Flushes => _core.Flushes;

    /// <summary>Page-table pages this gather has freed.</summary>
    public long TablesFreed => _core.TablesFreed;

    /// <summary>Table pages waiting for the flush.</summary>
    public int PendingTables => _core.PendingTables;

    /// <summary>Finishes the gather: flushes once and frees what was collected.</summary>
    public void Dispose() => _core.Release();
}
