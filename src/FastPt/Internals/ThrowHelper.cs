using System;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;

namespace FastPt.Internals;

/// <summary>Throws kept out of hot methods so that those stay small enough to inline.</summary>
[StackTraceHidden]
internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void ThrowPageFault(PageFault fault) => throw new PageFaultException(fault);

    [DoesNotReturn]
    public static void ThrowObjectDisposed(string name) => throw new ObjectDisposedException(name);

    [DoesNotReturn]
    public static void ThrowContextDisposed() => throw new ObjectDisposedException(nameof(MmuContext));

    [DoesNotReturn]
    public static void ThrowAddressSpaceDisposed() => throw new ObjectDisposedException(nameof(AddressSpace));

    [DoesNotReturn]
    public static void ThrowGatherFinished() => throw new ObjectDisposedException(nameof(MmuGather), "The gather has finished.");

    [DoesNotReturn]
    public static void ThrowArgument(string message, string paramName) => throw new ArgumentException(message, paramName);

    /// <summary>The report of a walk that reached freed page-table page <paramref name="tablePa"/> (checked mode):
    /// its level <paramref name="level"/> entry holds the free poison.</summary>
    public static UseAfterFreeException UseAfterFree(ulong va, ulong tablePa, int level, ulong entry) => new(
        $"checked mode: translating 0x{va:x16} reached freed page-table page 0x{tablePa:x} " +
        $"(level {level} entry holds the free poison 0x{entry:x16})",
        new VirtAddr(va), new PhysAddr(tablePa));
}
