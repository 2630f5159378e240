namespace FastPt.Hardware;

/// <summary>The page-fault vector (#PF): how a CPU reports a user access that faulted to the operating system
/// above it, which may resolve the fault so that the CPU retries the access. Defined here, implemented by the
/// memory manager's fault handler, so the hardware needs nothing of the layers above.</summary>
internal interface IPageFaultHandler
{
    /// <summary>Handles a fault of <paramref name="access"/> at <paramref name="va"/> that the walk reported as
    /// <paramref name="reason"/> (<see cref="FaultReason.NotMapped"/> or
    /// <see cref="FaultReason.ProtectionViolation"/>). True when the access should be retried; false when the fault
    /// stands, with <paramref name="reason"/> possibly made more precise. The CPU calls it outside any access of its
    /// own (not busy): the handler allocates and takes locks, and a flusher waiting for this CPU may hold them.</summary>
    bool HandleFault(ulong va, AccessKind access, ref FaultReason reason);
}
