using System.Diagnostics.Tracing;
using System.Runtime.CompilerServices;

namespace FastPt.Diagnostics;

/// <summary>The "FastPt" EventSource: one provider for every subsystem, filtered by keyword. Every event method
/// checks <see cref="EventSource.IsEnabled()"/> inline before anything else, so a machine with no listener pays one
/// field load and one predictable branch per event site; the payload is built and written only when a session
/// listens, through <c>WriteEventCore</c> with stack-allocated descriptors, so an enabled EventPipe session does
/// not allocate per event either.</summary>
/// <remarks>Record with <c>dotnet-trace collect --providers FastPt:0xFFFFFFFFFFFFFFFF:5</c> (all keywords,
/// verbose), or in process with <c>fastpt trace record</c>. Long operations are Start/Stop pairs (one task each)
/// whose durations the summariser turns into latency histograms. Event ids never change; an event whose payload
/// changed carries a higher <see cref="EventAttribute.Version"/>.</remarks>
[EventSource(Name = "FastPt")]
public sealed partial class FastPtEventSource : EventSource
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

    internal bool PagingVerbose => IsEnabled() && IsEnabled(EventLevel.Verbose, Keywords.Paging);

    // ---------------------------------------------------------------- paging and TLB (1-9)

    /// <summary>A page-table page was allocated and constructed for address space <paramref name="space"/>
    /// (the kernel's id for kernel tables).</summary>
    [Event(1, Version = 1, Level = EventLevel.Verbose, Keywords = Keywords.Paging, Message = "table alloc space {0} level {1} pfn {2}")]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void TableAlloc(ulong space, int level, ulong pfn, bool kernel)
    {
        if (IsEnabled() && IsEnabled(EventLevel.Verbose, Keywords.Paging)) WritePayload(1, space, level, pfn, Flag(kernel));
    }

    /// <summary>A page-table page of address space <paramref name="space"/> was destructed and freed.</summary>
    [Event(2, Version = 1, Level = EventLevel.Verbose, Keywords = Keywords.Paging, Message = "table free space {0} level {1} pfn {2}")]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void TableFree(ulong space, int level, ulong pfn, bool kernel)
    {
        if (IsEnabled() && IsEnabled(EventLevel.Verbose, Keywords.Paging)) WritePayload(2, space, level, pfn, Flag(kernel));
    }

    /// <summary>A range was mapped with <paramref name="leaves"/> leaves, allocating
    /// <paramref name="tablesAllocated"/> page-table pages.</summary>
    [Event(3, Level = EventLevel.Informational, Keywords = Keywords.Paging)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void MapRange(ulong space, ulong address, ulong length, long leaves, long tablesAllocated)
    {
        if (IsEnabled() && IsEnabled(EventLevel.Informational, Keywords.Paging)) WritePayload(3, space, address, length, leaves, tablesAllocated);
    }

    /// <summary>A range was unmapped; <paramref name="tablesFreed"/> page-table pages emptied by it go (or went)
    /// to the gather.</summary>
    [Event(4, Level = EventLevel.Informational, Keywords = Keywords.Paging)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void UnmapRange(ulong space, ulong address, ulong length, long tablesFreed)
    {
        if (IsEnabled() && IsEnabled(EventLevel.Informational, Keywords.Paging)) WritePayload(4, space, address, length, tablesFreed);
    }

    /// <summary>The rights of a range changed (<paramref name="protection"/> is a <see cref="Protection"/> value).</summary>
    [Event(5, Level = EventLevel.Informational, Keywords = Keywords.Paging)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void ProtectRange(ulong space, ulong address, ulong length, int protection)
    {
        if (IsEnabled() && IsEnabled(EventLevel.Informational, Keywords.Paging)) WritePayload(5, space, address, length, protection);
    }

    /// <summary>An anonymous region was reserved (<paramref name="protection"/> a <see cref="Protection"/>,
    /// <paramref name="options"/> <see cref="AnonymousOptions"/>).</summary>
    [Event(15, Level = EventLevel.Informational, Keywords = Keywords.Paging)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void MapAnonymous(ulong space, ulong address, ulong length, int protection, int options)
    {
        if (IsEnabled() && IsEnabled(EventLevel.Informational, Keywords.Paging)) WritePayload(15, space, address, length, protection, options);
    }

    /// <summary>A huge leaf at <paramref name="level"/> was split into a table of smaller leaves.</summary>
    [Event(6, Level = EventLevel.Informational, Keywords = Keywords.Paging)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void TableSplit(ulong space, int level, ulong address)
    {
        if (IsEnabled() && IsEnabled(EventLevel.Informational, Keywords.Paging)) WritePayload(6, space, level, address);
    }

    /// <summary>A TLB flush of [<paramref name="start"/>, <paramref name="end"/>) was published to the
    /// <paramref name="contexts"/> CPU contexts attached to the address space. An end of 0 means 2^64 (a range
    /// that includes the top page of a guest's higher half); <c>end - start</c> in 64-bit arithmetic is its size.</summary>
    [Event(7, Version = 1, Level = EventLevel.Informational, Keywords = Keywords.Tlb, Message = "flush space {0} kind {1} [{2}, {3}) to {4} contexts")]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void TlbFlush(ulong space, FlushKind kind, ulong start, ulong end, int contexts)
    {
        if (IsEnabled() && IsEnabled(EventLevel.Informational, Keywords.Tlb)) WritePayload(7, space, (int)kind, start, end, contexts);
    }

    /// <summary>A CPU context applied <paramref name="requests"/> invalidations it had missed (all at once when
    /// <paramref name="full"/>: it fell too far behind).</summary>
    [Event(8, Level = EventLevel.Verbose, Keywords = Keywords.Tlb)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void ContextInvalidated(ulong space, int context, long requests, bool full)
    {
        if (IsEnabled() && IsEnabled(EventLevel.Verbose, Keywords.Tlb)) WritePayload(8, space, context, requests, Flag(full));
    }

    /// <summary>An address space is being torn down with <paramref name="tables"/> page-table pages (root
    /// included); the flush and the table frees that follow belong to the teardown.</summary>
    [Event(9, Level = EventLevel.Informational, Keywords = Keywords.Paging)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddressSpaceTeardown(ulong space, long tables)
    {
        if (IsEnabled() && IsEnabled(EventLevel.Informational, Keywords.Paging)) WritePayload(9, space, tables);
    }

    // ---------------------------------------------------------------- hotplug (10-14)

    /// <summary>Hot-add of [start, start + size) began.</summary>
    [Event(10, Level = EventLevel.Informational, Keywords = Keywords.Hotplug, Task = Tasks.HotAdd, Opcode = EventOpcode.Start)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void HotAddStart(ulong start, ulong size, bool altmap)
    {
        if (IsEnabled() && IsEnabled(EventLevel.Informational, Keywords.Hotplug)) WritePayload(10, start, size, Flag(altmap));
    }

    /// <summary>Hot-add finished.</summary>
    [Event(11, Level = EventLevel.Informational, Keywords = Keywords.Hotplug, Task = Tasks.HotAdd, Opcode = EventOpcode.Stop)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void HotAddStop(ulong start, ulong size, long memmapPages, long tablesAllocated, bool success)
    {
        if (IsEnabled() && IsEnabled(EventLevel.Informational, Keywords.Hotplug)) WritePayload(11, start, size, memmapPages, tablesAllocated, Flag(success));
    }

    /// <summary>Hot-remove of [start, start + size) began.</summary>
    [Event(12, Level = EventLevel.Informational, Keywords = Keywords.Hotplug, Task = Tasks.HotRemove, Opcode = EventOpcode.Start)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void HotRemoveStart(ulong start, ulong size)
    {
        if (IsEnabled() && IsEnabled(EventLevel.Informational, Keywords.Hotplug)) WritePayload(12, start, size);
    }

    /// <summary>Hot-remove finished: frames of memmap and page tables freed, bytes of vmemmap marked unused.</summary>
    [Event(13, Level = EventLevel.Informational, Keywords = Keywords.Hotplug, Task = Tasks.HotRemove, Opcode = EventOpcode.Stop)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void HotRemoveStop(ulong start, ulong size, long memmapFramesFreed, long tablesFreed, long bytesMarkedUnused, bool success)
    {
        if (IsEnabled() && IsEnabled(EventLevel.Informational, Keywords.Hotplug))
            WritePayload(13, start, size, memmapFramesFreed, tablesFreed, bytesMarkedUnused, Flag(success));
    }

    /// <summary>A vmemmap block or page was freed because <c>memchr_inv</c> found it entirely unused.</summary>
    [Event(14, Level = EventLevel.Verbose, Keywords = Keywords.Hotplug)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void VmemmapFree(ulong address, ulong size, bool altmap)
    {
        if (IsEnabled() && IsEnabled(EventLevel.Verbose, Keywords.Hotplug)) WritePayload(14, address, size, Flag(altmap));
    }

    // ---------------------------------------------------------------- HugeTLB vmemmap optimization (20-21)

    /// <summary>An HVO batch (optimize or restore) of <paramref name="folios"/> folios began.</summary>
    [Event(20, Level = EventLevel.Informational, Keywords = Keywords.HugeTlb, Task = Tasks.VmemmapBatch, Opcode = EventOpcode.Start)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void VmemmapBatchStart(bool optimize, int folios)
    {
        if (IsEnabled() && IsEnabled(EventLevel.Informational, Keywords.HugeTlb)) WritePayload(20, Flag(optimize), folios);
    }

    /// <summary>An HVO batch finished: vmemmap pages freed (optimize) or allocated again (restore), and the TLB
    /// flushes the batch took.</summary>
    [Event(21, Level = EventLevel.Informational, Keywords = Keywords.HugeTlb, Task = Tasks.VmemmapBatch, Opcode = EventOpcode.Stop)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void VmemmapBatchStop(bool optimize, int folios, long pagesFreed, long pagesRestored, int flushes)
    {
        if (IsEnabled() && IsEnabled(EventLevel.Informational, Keywords.HugeTlb))
            WritePayload(21, Flag(optimize), folios, pagesFreed, pagesRestored, flushes);
    }

    // ---------------------------------------------------------------- RCU (30-31)

    /// <summary>An RCU grace period completed and ran <paramref name="callbacks"/> callbacks;
    /// <paramref name="gracePeriods"/> is the domain's running count.</summary>
    [Event(30, Level = EventLevel.Verbose, Keywords = Keywords.Rcu)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void GracePeriod(long gracePeriods, int callbacks)
    {
        if (IsEnabled() && IsEnabled(EventLevel.Verbose, Keywords.Rcu)) WritePayload(30, gracePeriods, callbacks);
    }

    /// <summary>A page-table page was queued for freeing after a grace period (<c>pte_free_defer</c>);
    /// <paramref name="queued"/> is false when its RCU head was already queued by another fragment.</summary>
    [Event(31, Level = EventLevel.Verbose, Keywords = Keywords.Rcu)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void TableDeferred(ulong pfn, bool queued)
    {
        if (IsEnabled() && IsEnabled(EventLevel.Verbose, Keywords.Rcu)) WritePayload(31, pfn, Flag(queued));
    }

    /// <summary>An RCU reader stopped holding up grace periods without leaving its section: its thread exited
    /// inside it (<paramref name="reason"/> 1) or it was disposed inside it (2). A bug in the caller, reported
    /// instead of hanging every later grace period.</summary>
    [Event(32, Level = EventLevel.Warning, Keywords = Keywords.Rcu)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void RcuReaderAbandoned(int threadId, int nesting, int reason)
    {
        if (IsEnabled() && IsEnabled(EventLevel.Warning, Keywords.Rcu)) WritePayload(32, threadId, nesting, reason);
    }

    /// <summary>The <c>PTE_FREE_DEFERRED</c> callback of page-table block <paramref name="pfn"/> found deferrals that
    /// arrived during its grace period and queued the block's RCU head once more; <paramref name="redeferrals"/> is
    /// the machine's running count.</summary>
    [Event(33, Level = EventLevel.Verbose, Keywords = Keywords.Rcu)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void TableRedeferred(ulong pfn, long redeferrals)
    {
        if (IsEnabled() && IsEnabled(EventLevel.Verbose, Keywords.Rcu)) WritePayload(33, pfn, redeferrals);
    }

    // ---------------------------------------------------------------- locks (40)

    /// <summary>A page-table lock was contended for <paramref name="spins"/> spins.</summary>
    [Event(40, Level = EventLevel.Verbose, Keywords = Keywords.Locks)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void LockContended(int level, ulong pfn, int spins)
    {
        if (IsEnabled() && IsEnabled(EventLevel.Verbose, Keywords.Locks)) WritePayload(40, level, pfn, spins);
    }

    // ---------------------------------------------------------------- faults (50)

    /// <summary>An access faulted (<paramref name="access"/> is an <see cref="AccessKind"/>, <paramref name="reason"/>
    /// a <see cref="FaultReason"/>).</summary>
    [Event(50, Level = EventLevel.Informational, Keywords = Keywords.Faults)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PageFault(ulong space, ulong address, int access, int reason)
    {
        if (IsEnabled() && IsEnabled(EventLevel.Informational, Keywords.Faults)) WritePayload(50, space, address, access, reason);
    }

    /// <summary>A demand fault in an anonymous region was resolved (<paramref name="kind"/> a
    /// <c>FaultKind</c>: 1 a 4 KiB frame, 2 a transparent huge page, 3 the zero page mapped, 4 the zero page
    /// copied on write). A fault another thread had already resolved installs nothing and emits no event.</summary>
    [Event(52, Level = EventLevel.Verbose, Keywords = Keywords.Faults)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void DemandFault(ulong space, ulong address, int access, int kind)
    {
        if (IsEnabled() && IsEnabled(EventLevel.Verbose, Keywords.Faults)) WritePayload(52, space, address, access, kind);
    }

    /// <summary>The PTE table of the 2 MiB region at <paramref name="address"/> was collapsed into a 2 MiB leaf, in
    /// place or after copying the data (<paramref name="copied"/>); the table went to <c>pte_free_defer</c>.</summary>
    [Event(51, Level = EventLevel.Informational, Keywords = Keywords.Faults)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PmdCollapsed(ulong space, ulong address, bool copied)
    {
        if (IsEnabled() && IsEnabled(EventLevel.Informational, Keywords.Faults)) WritePayload(51, space, address, Flag(copied));
    }
}
