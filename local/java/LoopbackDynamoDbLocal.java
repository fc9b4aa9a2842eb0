/*
 * DynamoDB Local, bound to one address, and ended when its parent goes.
 *
 *   java -cp <this class's folder>:DynamoDBLocal.jar LoopbackDynamoDbLocal <host> <DynamoDB Local's own arguments…>
 *
 * Why this exists (issue 14, point 5):
 *  - DynamoDB Local has no host option: its DynamoDBProxyServer builds Jetty's Server(port), whose connector binds
 *    every interface. This launcher builds the same server through the jar's own ServerRunner, sets the host on
 *    every Jetty connector before starting it, and refuses to start if that did not take.
 *  - The runtime (local/dynamodb.ts) spawns java in its own process group, so Ctrl-C reaches the runtime only and it
 *    stops java in order. A SIGKILL of the runtime runs no exit hook, so java would outlive it: the runtime keeps
 *    java's stdin open as a pipe, and this launcher exits when that pipe reaches end of file (the kernel closes it
 *    when the runtime dies, however it dies).
 *
 * Only reflection on the jar's classes, so it compiles against java.base alone (local/engine-process.ts compiles it
 * once per source into a cache). A change in the jar's internals makes it fail loudly, never bind more widely.
 */
import java.lang.reflect.Field;
import java.util.Arrays;

public final class LoopbackDynamoDbLocal {
  /** How long System.exit may take (Jetty and SQLite shutdown hooks) before the JVM is halted. */
  private static final long EXIT_GRACE_MS = 5_000;

  public static void main(String[] args) throws Exception {
    if (args.length < 1) {
      System.err.println("usage: LoopbackDynamoDbLocal <host> [DynamoDB Local arguments]");
      System.exit(2);
    }
    String host = args[0];
    String[] rest = Arrays.copyOfRange(args, 1, args.length);
    watchParent();

    Class<?> runner = Class.forName("software.amazon.dynamodb.services.local.main.ServerRunner");
    Object proxy = runner.getMethod("createServerFromCommandLineArgs", String[].class).invoke(null, (Object) rest);
    Field field = proxy.getClass().getDeclaredField("server");
    field.setAccessible(true);
    Object jetty = field.get(proxy);
    Object[] connectors = (Object[]) jetty.getClass().getMethod("getConnectors").invoke(jetty);
    if (connectors.length == 0) fail("DynamoDB Local's Jetty server has no connector to bind");
    for (Object c : connectors) {
      c.getClass().getMethod("setHost", String.class).invoke(c, host);
      Object set = c.getClass().getMethod("getHost").invoke(c);
      if (!host.equals(set)) fail("could not set the host of " + c + " (it is " + set + ")");
    }
    // DynamoDBProxyServer.start prints "Could not start server on port …" on a bind failure and stops the server;
    // with no server thread left the JVM then ends (the watcher below is a daemon), as the jar's own main does.
    proxy.getClass().getMethod("start").invoke(proxy);
    System.out.println("DynamoDB Local listening on " + host + " only");
  }

  /** Ends the JVM once stdin reaches end of file: the parent that holds the pipe's other end is gone. */
  private static void watchParent() {
    Thread t = new Thread(() -> {
      try {
        byte[] buf = new byte[64];
        while (System.in.read(buf) != -1) {
          // The parent never writes; anything read is ignored.
        }
      } catch (Exception e) {
        // A read error means the pipe is broken: the same as end of file.
      }
      System.err.println("LoopbackDynamoDbLocal: stdin closed (the parent is gone); exiting");
      Thread halt = new Thread(() -> {
        try {
          Thread.sleep(EXIT_GRACE_MS);
        } catch (InterruptedException e) {
          // halting anyway
        }
        Runtime.getRuntime().halt(3);
      }, "exit-grace");
      halt.setDaemon(true);
      halt.start();
      System.exit(3);
    }, "parent-watch");
    t.setDaemon(true);
    t.start();
  }

  private static void fail(String message) {
    System.err.println("LoopbackDynamoDbLocal: " + message + "; refusing to start");
    Runtime.getRuntime().halt(4);
  }
}
