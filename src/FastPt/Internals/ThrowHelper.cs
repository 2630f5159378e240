using System;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using FastPt.Hardware;
using FastPt.Mm;

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
    public static void ThrowArgument(string message, string paramName) => throw new ArgumentException(message, paramName);

    /// <summary>Checked mode found a freed table on a walk: counts it and builds the report.</summary>
    public static UseAfterFreeException UseAfterFree(MemoryManager memory, ulong va, in WalkResult walk)
    {
        Vmstat.Add(ref memory.Stat.UseAfterFreeDetected, 1);
        return new UseAfterFreeException(
            $"checked mode: translating 0x{va:x16} reached freed page-table page 0x{walk.TablePa:x} " +
            $"(level {walk.Level} entry holds the free poison 0x{walk.Entry:x16})",
            new VirtAddr(va), new PhysAddr(walk.TablePa));
    }
}
