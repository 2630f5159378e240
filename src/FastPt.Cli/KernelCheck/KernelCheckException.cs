using System;

namespace FastPt.Cli.KernelCheck;

/// <summary>The host cannot do what kernel-check asks of it (no region, no VmPTE, a failed system call). The message
/// is shown to the user as is.</summary>
internal sealed class KernelCheckException : Exception
{
    public KernelCheckException() : this("kernel-check failed") { }

    public KernelCheckException(string message) : base(message) { }

    public KernelCheckException(string message, Exception innerException) : base(message, innerException) { }
}
