using System.Diagnostics.Tracing;

namespace FastPt.Diagnostics;

/// <summary>The "FastPt" EventSource: one provider for every subsystem, filtered by keyword. Hot paths check
/// <see cref="EventSource.IsEnabled(EventLevel, EventKeywords)"/> before building a payload, so a machine with no
/// listener pays one predictable branch per event site.</summary>
/// <remarks>Record with <c>dotnet-trace collect --providers FastPt:0xFFFFFFFFFFFFFFFF:5</c> (all keywords,
/// verbose), or in process with <c>fastpt trace record</c>. Long operations are Start/Stop pairs whose durations
/// the summariser turns into latency histograms.</remarks>
[EventSource(Name = "FastPt")]
public sealed class FastPtEventSource : EventSource
{
    /// <summary>The singleton.</summary>
    public static readonly FastPtEventSource Log = new();

    private FastPtEventSource() { }

    /// <summary>Keywords, one per subsystem.</summary>
    public static class Keywords
    {
        /// <summary>Page-table pages and range operations.</summary>
        public const EventKeywords Paging = (EventKeywords)0x1;

        /// <summary>TLB flushes and invalidations.</summary>
        public const EventKeywords Tlb = (EventKeywords)0x2;

        /// <summary>Memory hot-add and hot-remove.</summary>
        public const EventKeywords Hotplug = (EventKeywords)0x4;

        /// <summary>HugeTLB pool and vmemmap optimization.</summary>
        public const EventKeywords HugeTlb = (EventKeywords)0x8;

        /// <summary>RCU grace periods and deferred frees.</summary>
        public const EventKeywords Rcu = (EventKeywords)0x10;

        /// <summary>Page-table lock contention.</summary>
        public const EventKeywords Locks = (EventKeywords)0x20;

        /// <summary>Page faults.</summary>
        public const EventKeywords Faults = (EventKeywords)0x40;
    }

    /// <summary>Task ids that group Start/Stop pairs.</summary>
    public static class Tasks
    {
        /// <summary>Hot-add of a range.</summary>
        public const EventTask HotAdd = (EventTask)1;

        /// <summary>Hot-remove of a range.</summary>
        public const EventTask HotRemove = (EventTask)2;

        /// <summary>A HugeTLB vmemmap optimization or restore batch.</summary>
        public const EventTask VmemmapBatch = (EventTask)3;
    }

    internal bool PagingVerbose => IsEnabled(EventLevel.Verbose, Keywords.Paging);

    /// <summary>A page-table page was allocated and constructed.</summary>
    [Event(1, Level = EventLevel.Verbose, Keywords = Keywords.Paging, Message = "table alloc level {0} pfn {1}")]
    public void TableAlloc(int level, ulong pfn, bool kernel)
    {
        if (IsEnabled(EventLevel.Verbose, Keywords.Paging)) WriteEvent(1, level, pfn, kernel);
    }

    /// <summary>A page-table page was destructed and freed.</summary>
    [Event(2, Level = EventLevel.Verbose, Keywords = Keywords.Paging, Message = "table free level {0} pfn {1}")]
    public void TableFree(int level, ulong pfn, bool kernel)
    {
        if (IsEnabled(EventLevel.Verbose, Keywords.Paging)) WriteEvent(2, level, pfn, kernel);
    }

    /// <summary>A range was mapped.</summary>
    [Event(3, Level = EventLevel.Informational, Keywords = Keywords.Paging)]
    public void MapRange(ulong space, ulong address, ulong length, long leaves, long tablesAllocated)
    {
        if (IsEnabled(EventLevel.Informational, Keywords.Paging)) WriteEvent(3, space, address, length, leaves, tablesAllocated);
    }

    /// <summary>A range was unmapped.</summary>
    [Event(4, Level = EventLevel.Informational, Keywords = Keywords.Paging)]
    public void UnmapRange(ulong space, ulong address, ulong length, long tablesFreed)
    {
        if (IsEnabled(EventLevel.Informational, Keywords.Paging)) WriteEvent(4, space, address, length, tablesFreed);
    }

    /// <summary>The rights of a range changed.</summary>
    [Event(5, Level = EventLevel.Informational, Keywords = Keywords.Paging)]
    public void ProtectRange(ulong space, ulong address, ulong length, int protection)
    {
        if (IsEnabled(EventLevel.Informational, Keywords.Paging)) WriteEvent(5, space, address, length, protection);
    }

    /// <summary>A huge leaf was split into a table of smaller leaves.</summary>
    [Event(6, Level = EventLevel.Informational, Keywords = Keywords.Paging)]
    public void TableSplit(ulong space, int level, ulong address)
    {
        if (IsEnabled(EventLevel.Informational, Keywords.Paging)) WriteEvent(6, space, level, address);
    }

    /// <summary>A TLB flush was published to an address space's contexts.</summary>
    [Event(7, Level = EventLevel.Informational, Keywords = Keywords.Tlb)]
    public void TlbFlush(ulong space, FlushKind kind, ulong start, ulong end)
    {
        if (IsEnabled(EventLevel.Informational, Keywords.Tlb)) WriteEvent(7, space, (int)kind, start, end);
    }

    /// <summary>A CPU context applied invalidations it had missed.</summary>
    [Event(8, Level = EventLevel.Verbose, Keywords = Keywords.Tlb)]
    public void ContextInvalidated(ulong space, int context, long requests, bool full)
    {
        if (IsEnabled(EventLevel.Verbose, Keywords.Tlb)) WriteEvent(8, space, context, requests, full);
    }

    /// <summary>Hot-add of [start, start + size) began.</summary>
    [Event(10, Level = EventLevel.Informational, Keywords = Keywords.Hotplug, Task = Tasks.HotAdd, Opcode = EventOpcode.Start)]
    public void HotAddStart(ulong start, ulong size, bool altmap)
    {
        if (IsEnabled(EventLevel.Informational, Keywords.Hotplug)) WriteEvent(10, start, size, altmap);
    }

    /// <summary>Hot-add finished.</summary>
    [Event(11, Level = EventLevel.Informational, Keywords = Keywords.Hotplug, Task = Tasks.HotAdd, Opcode = EventOpcode.Stop)]
    public void HotAddStop(ulong start, ulong size, long memmapPages, long tablesAllocated, bool success)
    {
        if (IsEnabled(EventLevel.Informational, Keywords.Hotplug)) WriteEvent(11, start, size, memmapPages, tablesAllocated, success);
    }

    /// <summary>Hot-remove of [start, start + size) began.</summary>
    [Event(12, Level = EventLevel.Informational, Keywords = Keywords.Hotplug, Task = Tasks.HotRemove, Opcode = EventOpcode.Start)]
    public void HotRemoveStart(ulong start, ulong size)
    {
        if (IsEnabled(EventLevel.Informational, Keywords.Hotplug)) WriteEvent(12, start, size);
    }

    /// <summary>Hot-remove finished: frames of memmap and page tables freed, bytes of vmemmap marked unused.</summary>
    [Event(13, Level = EventLevel.Informational, Keywords = Keywords.Hotplug, Task = Tasks.HotRemove, Opcode = EventOpcode.Stop)]
    public void HotRemoveStop(ulong start, ulong size, long memmapFramesFreed, long tablesFreed, long bytesMarkedUnused, bool success)
    {
        if (IsEnabled(EventLevel.Informational, Keywords.Hotplug))
            WriteEvent(13, start, size, memmapFramesFreed, tablesFreed, bytesMarkedUnused, success);
    }

    /// <summary>A vmemmap block or page was freed because <c>memchr_inv</c> found it entirely unused.</summary>
    [Event(14, Level = EventLevel.Verbose, Keywords = Keywords.Hotplug)]
    public void VmemmapFree(ulong address, ulong size, bool altmap)
    {
        if (IsEnabled(EventLevel.Verbose, Keywords.Hotplug)) WriteEvent(14, address, size, altmap);
    }

    /// <summary>An HVO batch (optimize or restore) began.</summary>
    [Event(20, Level = EventLevel.Informational, Keywords = Keywords.HugeTlb, Task = Tasks.VmemmapBatch, Opcode = EventOpcode.Start)]
    public void VmemmapBatchStart(bool optimize, int folios)
    {
        if (IsEnabled(EventLevel.Informational, Keywords.HugeTlb)) WriteEvent(20, optimize, folios);
    }

    /// <summary>An HVO batch finished.</summary>
    [Event(21, Level = EventLevel.Informational, Keywords = Keywords.HugeTlb, Task = Tasks.VmemmapBatch, Opcode = EventOpcode.Stop)]
    public void VmemmapBatchStop(bool optimize, int folios, long pagesFreed, long pagesRestored, int flushes)
    {
        if (IsEnabled(EventLevel.Informational, Keywords.HugeTlb)) WriteEvent(21, optimize, folios, pagesFreed, pagesRestored, flushes);
    }

    /// <summary>An RCU grace period completed and ran callbacks.</summary>
    [Event(30, Level = EventLevel.Verbose, Keywords = Keywords.Rcu)]
    public void GracePeriod(long gracePeriods, int callbacks)
    {
        if (IsEnabled(EventLevel.Verbose, Keywords.Rcu)) WriteEvent(30, gracePeriods, callbacks);
    }

    /// <summary>A page-table page was queued for freeing after a grace period (<c>pte_free_defer</c>).</summary>
    [Event(31, Level = EventLevel.Verbose, Keywords = Keywords.Rcu)]
    public void TableDeferred(ulong pfn, bool queued)
    {
        if (IsEnabled(EventLevel.Verbose, Keywords.Rcu)) WriteEvent(31, pfn, queued);
    }

    /// <summary>A page-table lock was contended.</summary>
    [Event(40, Level = EventLevel.Verbose, Keywords = Keywords.Locks)]
    public void LockContended(int level, ulong pfn, int spins)
    {
        if (IsEnabled(EventLevel.Verbose, Keywords.Locks)) WriteEvent(40, level, pfn, spins);
    }

    /// <summary>An access faulted.</summary>
    [Event(50, Level = EventLevel.Informational, Keywords = Keywords.Faults)]
    public void PageFault(ulong space, ulong address, int access, int reason)
    {
        if (IsEnabled(EventLevel.Informational, Keywords.Faults)) WriteEvent(50, space, address, access, reason);
    }
}
