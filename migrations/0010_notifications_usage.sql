CREATE TYPE "public"."notification_category" AS ENUM('invitations', 'membership', 'api_keys', 'webhooks', 'storage', 'security');--> statement-breakpoint
CREATE TYPE "public"."notification_channel" AS ENUM('in_app', 'email', 'both', 'none');--> statement-breakpoint
CREATE TABLE "notification_preferences" (
	"user_id" uuid NOT NULL,
	"category" "notification_category" NOT NULL,
	"channel" "notification_channel" NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "notification_preferences_user_id_category_pk" PRIMARY KEY("user_id","category")
);
--> statement-breakpoint
CREATE TABLE "notifications" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"source_org_id" uuid,
	"category" "notification_category" NOT NULL,
	"type" text NOT NULL,
	"title" text NOT NULL,
	"body" text NOT NULL,
	"data" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"dedupe_key" text NOT NULL,
	"in_app" boolean DEFAULT true NOT NULL,
	"email_wanted" boolean DEFAULT false NOT NULL,
	"read_at" timestamp with time zone,
	"pushed_at" timestamp with time zone,
	"emailed_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "notifications_user_dedupe_key" UNIQUE("user_id","dedupe_key")
);
--> statement-breakpoint
CREATE TABLE "usage_daily" (
	"org_id" uuid NOT NULL,
	"day" date NOT NULL,
	"requests" integer NOT NULL,
	"client_errors" integer NOT NULL,
	"server_errors" integer NOT NULL,
	"requests_by_class" jsonb NOT NULL,
	"p50_ms" real,
	"p95_ms" real,
	"active_users" integer NOT NULL,
	"product_events" integer NOT NULL,
	"storage_bytes" bigint NOT NULL,
	"refreshed_at" timestamp with time zone NOT NULL,
	CONSTRAINT "usage_daily_org_id_day_pk" PRIMARY KEY("org_id","day")
);
--> statement-breakpoint
CREATE TABLE "user_activity_daily" (
	"org_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"day" date NOT NULL,
	"actions" integer NOT NULL,
	CONSTRAINT "user_activity_daily_org_id_user_id_day_pk" PRIMARY KEY("org_id","user_id","day")
);
--> statement-breakpoint
CREATE TABLE "user_activity_summary" (
	"org_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"total_actions" bigint NOT NULL,
	"active_days" integer NOT NULL,
	"first_active_day" date NOT NULL,
	"last_active_day" date NOT NULL,
	CONSTRAINT "user_activity_summary_org_id_user_id_pk" PRIMARY KEY("org_id","user_id")
);
--> statement-breakpoint
ALTER TABLE "notification_preferences" ADD CONSTRAINT "notification_preferences_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "notifications" ADD CONSTRAINT "notifications_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "notifications" ADD CONSTRAINT "notifications_source_org_id_organizations_id_fk" FOREIGN KEY ("source_org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "usage_daily" ADD CONSTRAINT "usage_daily_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_activity_daily" ADD CONSTRAINT "user_activity_daily_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_activity_summary" ADD CONSTRAINT "user_activity_summary_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "notifications_user_created_idx" ON "notifications" USING btree ("user_id","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "notifications_user_unread_idx" ON "notifications" USING btree ("user_id") WHERE "notifications"."read_at" is null and "notifications"."in_app";--> statement-breakpoint
CREATE INDEX "usage_daily_day_idx" ON "usage_daily" USING btree ("day");--> statement-breakpoint
CREATE TABLE "usage_events" (
	"id" uuid NOT NULL,
	"org_id" uuid NOT NULL REFERENCES "public"."organizations"("id") ON DELETE cascade,
	"created_at" timestamp with time zone NOT NULL,
	"source" text NOT NULL CHECK ("source" IN ('api', 'product')),
	"name" text NOT NULL,
	"route_class" text,
	"status" smallint,
	"latency_ms" integer,
	"user_id" uuid,
	"api_key_id" uuid,
	"properties" jsonb,
	PRIMARY KEY ("created_at", "id")
) PARTITION BY RANGE ("created_at");
--> statement-breakpoint
CREATE INDEX "usage_events_org_created_idx" ON "usage_events" USING btree ("org_id", "created_at");
--> statement-breakpoint
SELECT app_secure_tenant_table('usage_events', 'usage_event');
--> statement-breakpoint
DROP TRIGGER audit ON usage_events;
--> statement-breakpoint
SELECT app_secure_tenant_table('usage_daily', 'usage_day', 'org_id');
--> statement-breakpoint
DROP TRIGGER audit ON usage_daily;
--> statement-breakpoint
SELECT app_secure_tenant_table('user_activity_daily', 'user_activity_day', 'user_id');
--> statement-breakpoint
DROP TRIGGER audit ON user_activity_daily;
--> statement-breakpoint
SELECT app_secure_tenant_table('user_activity_summary', 'user_activity', 'user_id');
--> statement-breakpoint
DROP TRIGGER audit ON user_activity_summary;
