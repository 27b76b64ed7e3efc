import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/**
 * Starts DynamoDB Local bound to 127.0.0.1 (its own CLI binds every interface), prints
 * "READY <port>" once listening, and exits when its standard input closes, so it never
 * outlives the Node process that started it.
 */
public class DynamoDbLocalLauncher {
  public static void main(String[] args) throws Exception {
    // The CLI refuses port 0; take the requested port here and set it on the connector instead.
    int requestedPort = 8000;
    for (int i = 0; i + 1 < args.length; i++) {
      if (args[i].equals("-port")) {
        requestedPort = Integer.parseInt(args[i + 1]);
        args[i + 1] = "8000";
      }
    }
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
    Field field = DynamoDBProxyServer.class.getDeclaredField("server");
    field.setAccessible(true);
    Server jetty = (Server) field.get(proxy);
    for (Connector connector : jetty.getConnectors()) {
      if (connector instanceof ServerConnector) {
        ((ServerConnector) connector).setHost("127.0.0.1");
        ((ServerConnector) connector).setPort(requestedPort);
      }
    }
    proxy.start();
    int port = -1;
    for (Connector connector : jetty.getConnectors()) {
      if (connector instanceof ServerConnector) {
        port = ((ServerConnector) connector).getLocalPort();
      }
    }
    System.out.println("READY " + port);
    System.out.flush();
    while (System.in.read() != -1) {
      // wait for the parent to close stdin
    }
    proxy.stop();
    System.exit(0);
  }
}
