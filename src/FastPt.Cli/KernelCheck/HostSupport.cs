using System;
using System.Runtime.InteropServices;

namespace FastPt.Cli.KernelCheck;

/// <summary>Whether this host can run kernel-check: a Linux kernel on x86-64 with 4 KiB pages, whose
/// /proc/self/status shows VmPTE.</summary>
internal static class HostSupport
{
    /// <summary>Null when kernel-check can run here; otherwise one line saying why not.</summary>
    public static string? Unsupported()
    {
        if (!OperatingSystem.IsLinux())
            return $"kernel-check needs a Linux kernel (it reads VmPTE from {VmPteReader.StatusPath}); this host runs {RuntimeInformation.OSDescription}";
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64)
            return $"kernel-check compares with x86-64 page tables, which FastPt models; this process runs on {RuntimeInformation.ProcessArchitecture}";
        if (Environment.SystemPageSize != 4096)
            return $"kernel-check needs 4 KiB base pages; this kernel uses {Environment.SystemPageSize / 1024} KiB pages";
        using VmPteReader? reader = VmPteReader.TryOpen(out string reason);
        return reader is null ? "kernel-check cannot run here: " + reason : null;
    }
}
